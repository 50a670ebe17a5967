// Every family's cases, for the manifest test (each family's own test file runs its cases).
import { CASES } from './cases.ts';
import { CASES_CONV } from './cases-conv.ts';
import { CASES_NORM } from './cases-norm.ts';
import { CASES_LOSSES } from './cases-losses.ts';
import { CASES_ATTENTION } from './cases-attention.ts';

export const ALL_CASES = [...CASES, ...CASES_CONV, ...CASES_NORM, ...CASES_LOSSES, ...CASES_ATTENTION];
