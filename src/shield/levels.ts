import { SHIELD_LEVELS, isLevel, levelRank, type Level } from './scoring/score.js';

export { SHIELD_LEVELS, isLevel, levelRank, type Level };

/** The levels at or above `min`, for a SQL `in (…)` filter on the stored level names. */
export function levelsAtLeast(min: Level): Level[] {
  return SHIELD_LEVELS.filter((l) => levelRank(l) >= levelRank(min));
}
