/** The hand-counted table the fairness tests share. */
import type { ClassificationRow, RegressionRow } from './group-metrics.js';

/**
 * Sixteen loan decisions, positive class `yes`. Hand counts (P: actual positives, N: actual
 * negatives, S: predicted yes, TP, FP, correct):
 *
 *   sex=F  8 rows  P3 N5 S3 TP2 FP1 correct6 → rate 3/8, TPR 2/3, FPR 1/5, accuracy 6/8
 *   sex=M  8 rows  P3 N5 S6 TP3 FP3 correct5 → rate 6/8, TPR 1,   FPR 3/5, accuracy 5/8
 *   race=A 8 rows  P4 N4 S4 TP3 FP1 correct6 → rate 1/2, TPR 3/4, FPR 1/4, accuracy 6/8
 *   race=B 6 rows  P2 N4 S4 TP2 FP2 correct4 → rate 4/6, TPR 1,   FPR 2/4, accuracy 4/6
 *   race=C 2 rows  P0 N2 S1 TP0 FP1 correct1 → rate 1/2, TPR —,   FPR 1/2, accuracy 1/2
 *   F,A 4: P2 N2 S1 TP1 FP0 c3   F,B 3: P1 N2 S2 TP1 FP1 c2   F,C 1: P0 N1 S0 c1
 *   M,A 4: P2 N2 S3 TP2 FP1 c3   M,B 3: P1 N2 S2 TP1 FP1 c2   M,C 1: P0 N1 S1 FP1 c0
 *   all 16: P6 N10 S9 TP5 FP4 correct11
 *
 * With minGroupSize 3 the disparities are:
 *
 *                 DP difference  DP ratio  TPR diff  FPR diff  EO difference
 *   sex           3/8            1/2       1/3       2/5       2/5
 *   race          1/6            3/4       1/4       1/4       1/4
 *   intersection  1/2            1/3       1/2       1/2       1/2
 */
export const loans: ClassificationRow[] = (
  [
    ['F', 'A', 'yes', 'yes'],
    ['F', 'A', 'yes', 'no'],
    ['F', 'A', 'no', 'no'],
    ['F', 'B', 'yes', 'yes'],
    ['F', 'B', 'no', 'yes'],
    ['F', 'B', 'no', 'no'],
    ['F', 'A', 'no', 'no'],
    ['M', 'A', 'yes', 'yes'],
    ['M', 'A', 'yes', 'yes'],
    ['M', 'A', 'no', 'yes'],
    ['M', 'B', 'yes', 'yes'],
    ['M', 'B', 'no', 'no'],
    ['M', 'B', 'no', 'yes'],
    ['M', 'A', 'no', 'no'],
    ['F', 'C', 'no', 'no'],
    ['M', 'C', 'no', 'yes'],
  ] as const
).map(([sex, race, label, prediction]) => ({ groups: { sex, race }, label, prediction }));

/**
 * Eight house prices (label, prediction; error = prediction − label):
 *   F,N: +2 −2   F,S: +3 0   M,N: +1 0   M,S: −1 +4
 *   sex=F    MAE 7/4  RMSE √(17/4)  mean error 3/4
 *   sex=M    MAE 6/4  RMSE √(18/4)  mean error 4/4
 *   region=N MAE 5/4  RMSE √(9/4)   mean error 1/4
 *   region=S MAE 8/4  RMSE √(26/4)  mean error 6/4
 *   F,N 2 √4 0 · F,S 3/2 √(9/2) 3/2 · M,N 1/2 √(1/2) 1/2 · M,S 5/2 √(17/2) 3/2
 *   all      MAE 13/8 RMSE √(35/8)  mean error 7/8
 */
export const prices: RegressionRow[] = (
  [
    ['F', 'N', 10, 12],
    ['F', 'N', 20, 18],
    ['F', 'S', 30, 33],
    ['F', 'S', 40, 40],
    ['M', 'N', 10, 11],
    ['M', 'N', 20, 20],
    ['M', 'S', 30, 29],
    ['M', 'S', 40, 44],
  ] as const
).map(([sex, region, label, prediction]) => ({ groups: { sex, region }, label, prediction }));
