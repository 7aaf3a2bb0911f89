/**
 * The public MongoDB kit for feature adapters (src/events, src/media, src/conversations,
 * src/auth): they open their collections on `backend.db` and use these, never the store's
 * internals. Imported only by MongoDB adapters, which are loaded only with MONGODB_URI.
 */
export { insertNew, isDuplicateKey, storeOperation, toStoreError } from './mongo/mongo-errors.js';
export { COLLECTIONS } from './mongo/indexes.js';
export { docToMessage, type MessageDoc } from './mongo/documents.js';
export { MongoJobs, fromDoc, toDoc, type JobDoc } from './mongo-jobs.js';
