/** The entry point of the thread that reads large feedback bodies (see feedback-body-reader.ts). */
import { readFeedbackBody } from './feedback-body.js';

export default readFeedbackBody;
