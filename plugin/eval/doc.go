// Package eval measures search and recommendation methods on a data folder
// (docs/CONTRACTS.md: items, interactions and queries as NDJSON). The
// converters of public datasets into that format are in index/convert.
//
// Run asks every method of a Methods set for a ranked list per test case
// and reports HR@k and NDCG@k (graded gain 2^grade-1) at the headline k
// and at 30, the standard error of HR@k, latency percentiles, and counts of
// answers that break the contract (unknown or unavailable ids, wrong type,
// malformed or short lists). Search cases are the test queries;
// recommendation cases are the users' leave-last-out test events, with the
// train+valid events as history.
//
// Baselines builds the reference methods from train data only: BM25 (with
// and without a popularity prior) and most-popular for search; most-popular,
// item-kNN and sequential kNN for recommendation. A model joins a run as one
// more named Searcher / Recommender.
package eval
