/** The largest request body any route reads unless it sets its own limit (evidence and feedback do). */
export const BODY_LIMIT_BYTES = 1024 * 1024;
