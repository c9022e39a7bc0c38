// Package embedded is the default storage backend: one bbolt file in the data
// directory, for a single server node.
//
// Why bbolt:
//   - One file, nothing else to run or back up.
//   - ACID transactions, and every commit is fsynced before Update returns,
//     so every write the server acknowledges survives a crash or power loss.
//   - One writer at a time: a refresh rotation, a code redemption or a
//     revocation is a read-check-write inside one Update, atomic without
//     compare-and-swap loops or scripts.
//   - An exclusive file lock: a second process opening the same data
//     directory fails instead of corrupting it.
//
// buntdb was the other candidate; its default sync policy fsyncs once a
// second, so a power loss could drop refresh rotations and code redemptions
// the server had already answered, which would reopen replay windows.
//
// Expired records read as absent; a janitor deletes them once a minute. It
// finds them through an expiry index (expiry.go) that every write setting a
// deadline keeps in the same transaction, and deletes them in transactions
// of at most purgeBatchSize records, so its cost follows what expired and
// writers wait for one batch at most. A file from before the index is
// indexed once when opened.
//
// Backup streams a consistent copy of the file from one read transaction,
// which does not stop writers.
package embedded
