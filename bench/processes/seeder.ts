import { bulkSeed, type BulkSeedOptions } from '../lib/bulk-seed.js';
import { serve } from '../lib/rpc.js';

/**
 * Bulk seeding in a process of its own, beside the server it fills: its gigabyte page cache and the memory its
 * batches churn through stay out of the process whose CPU and memory the API scenario measures.
 */
serve({
  bulkSeed(args: BulkSeedOptions) {
    return bulkSeed(args);
  },
});
