/**
 * Every page of the console, in navigation order (`routes.ts` says what a page is). A new page
 * is added here.
 */
import type { Page } from '../routes.js';
import { homePage } from './home.js';
import { objectPage } from './object.js';

export const pages: readonly Page[] = [homePage, objectPage];
