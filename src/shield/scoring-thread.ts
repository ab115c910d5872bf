/** The entry point of a scoring worker thread (see scoring-pool.ts): one task is one company's batch. */
import { scoreBatch } from './scoring/batch.js';

export default scoreBatch;
