/**
 * The fairness and model-card sections of a TrainingJob (and of a RetrainPolicy's template):
 * how a model is evaluated across the Dataset's sensitive columns, the rules its group metrics
 * must meet (the fairness gate, `contract/fairness/gate.ts`), and the intended-use fields of its
 * model card. The trainer gets both as JSON (`LATHE_FAIRNESS`, `LATHE_MODEL_CARD`).
 */
import { z } from 'zod';
import { comparisonOperators, fairnessMetrics } from '../../../contract/fairness/gate.js';
import { withCel } from './cel.js';
import { boundedString, setList } from './common.js';

/** The most rules one fairness section may hold. */
export const MAX_FAIRNESS_RULES = 16;

const FairnessRuleSchema = withCel(
  z
    .object({
      metric: z
        .enum(fairnessMetrics)
        .describe(
          'The disparity bounded: demographicParityDifference, demographicParityRatio, truePositiveRateDifference, falsePositiveRateDifference, equalizedOddsDifference (classification) or meanAbsoluteErrorDifference (regression).',
        ),
      op: z
        .enum(comparisonOperators)
        .describe('With value: the bound, e.g. ">=" for demographicParityRatio >= 0.8.')
        .optional(),
      value: z.number().describe('With op: the bound.').optional(),
      noWorseThanChampionBy: z
        .number()
        .min(0)
        .describe(
          'Instead of op and value: the challenger may be worse than the model in production by at most this much (a ratio lower, a difference higher), both judged on the same test split.',
        )
        .optional(),
      scope: boundedString(
        'One sensitive column, or "intersection"; unset: every sensitive column and the intersection.',
        253,
        1,
      ).optional(),
    })
    .describe('One rule of the fairness gate.'),
  [
    {
      rule: '(has(self.op) && has(self.value) && !has(self.noWorseThanChampionBy)) || (!has(self.op) && !has(self.value) && has(self.noWorseThanChampionBy))',
      message: 'a fairness rule sets either op and value, or noWorseThanChampionBy',
      reason: 'FieldValueInvalid',
      holds: (self) =>
        (self.op !== undefined &&
          self.value !== undefined &&
          self.noWorseThanChampionBy === undefined) ||
        (self.op === undefined &&
          self.value === undefined &&
          self.noWorseThanChampionBy !== undefined),
    },
  ],
);

/** `spec.fairness` of a TrainingJob. */
export const TrainingFairnessSchema = z
  .object({
    positiveClass: boundedString(
      'Classification: the favourable outcome whose rates are compared (selection rate, true and false positive rates). Default: for two classes, the second in sorted order (e.g. "1", "true", "yes"); required for more.',
      253,
      1,
    ).optional(),
    minGroupSize: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .describe(
        'Groups with fewer test rows are reported but not judged: their rates are too noisy.',
      )
      .default(30),
    intersections: z
      .boolean()
      .describe(
        'Also evaluate the intersections of the sensitive columns (e.g. sex × age band), when there are several.',
      )
      .default(true),
    rules: z
      .array(FairnessRuleSchema)
      .max(MAX_FAIRNESS_RULES)
      .describe(
        'The fairness gate: the ModelVersion reports FairnessChecked=False when a rule fails, and a RetrainPolicy does not promote it.',
      )
      .optional(),
  })
  .describe(
    "Evaluate the model across the Dataset's sensitive columns (spec.fairness.sensitiveColumns of the Dataset): metrics by group, disparities and the gate.",
  );
export type TrainingFairness = z.infer<typeof TrainingFairnessSchema>;

const cardText = (description: string) => boundedString(description, 2000).optional();

/** `spec.modelCard`: what the user says about the model, printed in its model card. */
export const ModelCardSpecSchema = z
  .object({
    description: cardText('What the model does.'),
    intendedUse: cardText('The uses the model is meant for.'),
    intendedUsers: cardText('Who is meant to use it.'),
    outOfScopeUses: cardText('Uses it is not meant for.'),
    limitations: cardText('Known limitations.'),
    ethicalConsiderations: cardText('Risks and how they are handled.'),
    owners: setList(
      boundedString('An owner (team, person, contact).', 253, 1),
      { max: 16 },
      'Who answers for the model.',
    ).optional(),
  })
  .describe("Intended-use fields of the model's card (model-card.json in the artifact).");
export type ModelCardSpec = z.infer<typeof ModelCardSpecSchema>;
