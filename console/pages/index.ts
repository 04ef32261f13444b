/**
 * Every page of the console, in navigation order (`routes.ts` says what a page is). A new page
 * is added here.
 */
import type { Page } from '../routes.js';
import { decisionsPage } from './decisions.js';
import { homePage } from './home.js';
import { lineagePage } from './lineage.js';
import { modelComparisonPage } from './model-comparison.js';
import { objectPage } from './object.js';
import { servingPage } from './serving.js';
import { trainingPage } from './training.js';

export const pages: readonly Page[] = [
  homePage,
  lineagePage,
  decisionsPage,
  objectPage,
  modelComparisonPage,
  trainingPage,
  servingPage,
];
