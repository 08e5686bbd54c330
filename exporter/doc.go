// Package exporter turns a catalog with SIDs, its interaction log and its
// labelled queries into what the Python trainer (exporter/py) reads and the
// serving engine loads: a byte-level BPE tokenizer (tokenizer.json, Hugging
// Face schema), the model metadata (neo.json) and tokenized training shards
// (CONTRACTS.md "Training shards").
//
// # Tokenizer
//
// The BPE vocabulary is learned from exactly the text the training stages
// encode (item titles, descriptions, brands, attributes, train queries,
// templates and generated profile/reason texts) by a deterministic trainer
// (see trainBPE for why not sugarme's). Ids: the BPE vocabulary first
// (<|pad|>=0, <|unk|>=1, the 256 byte tokens, merges), then the special
// tokens, then the SID tokens laid out by sid.NewVocab. The tokenizer
// itself is sid.Tokenizer, shared with the serving engine (sid.LoadTokenizer)
// so that training and serving tokenization cannot drift; its Encode is a
// fast re-implementation of github.com/sugarme/tokenizer's byte-level BPE
// that gives the same ids as tokenizer.json loaded with pretrained.FromFile
// (tested, and fuzzed, in package sid). neo.json is a sid.ModelMeta.
// Options.VocabSize counts BPE tokens only; neo.json vocab_size is the
// total.
//
// # Sequences
//
// Every instruct sequence is
//
//	<|bos|> <|user|> INSTRUCTION <|fmt:F|> <|assistant|> COMPLETION <|eos|>
//
// with the loss on COMPLETION and <|eos|>. INSTRUCTION is one of Templates
// (template 0 is what serving uses; training samples them all).
//
// Stages and their mix (defaults; per-stage counts are in the Manifest
// report):
//
//   - warmup: one sequence per item, "title. description. brand. type: t,
//     key: value, ..., price: tier.", loss on every token.
//   - ground: three per item, loss on the answer: "Item: {title}\nID:" →
//     SID span; SID span + " is called" → " {title}"; SID span + " is a
//     kind of" → " {type}".
//   - instruct:
//     search × ids: 3 per train query, relevant SIDs (grade 2, then 1; at
//     most 10), shuffled within a grade each time; {type} = the query's
//     type (or the relevant items' common type), dropped to "items" /
//     "pieces" in 25% (50% when inferred) of the samples;
//     recommend × ids: per user, up to 10 cut points t over the train events
//     (the last always), history = ≤ MaxHistory events before t, answer =
//     the SID at t; {type} = the target's type in half of them; 20% use a
//     {context} template with a request true of the target;
//     explain × text: per user, the full train history and one earlier cut
//     → a profile text from the history's dominant style, colour, material,
//     brands, types, price tier and other attributes;
//     mixed × mixed: per user, 2 cut points → "Based on your taste for
//     {style} {material} pieces, I recommend [SID]…[/SID], a {colour}
//     {type} from the {collection} collection by {brand}." where the reason
//     holds for both the history and the item (falling back to the brand,
//     the type or "your recent activity").
//   - valid (held out, teacher forcing, loss mask on the target SID tokens
//     only): each test query with its best relevant item, and each user's
//     test event with history = train + valid events, both as template 0
//     with the ids format.
//
// With Options.SequenceSamples (off by default) the recommend × ids
// samples are replaced by sequence samples, written without format token,
// <|assistant|> or <|eos|>:
//
//	<|bos|> <|user|> The user's items, oldest first: [SID]…[/SID] [SID]…[/SID] …
//
// A user's train events are cut into windows of as many spans as fit
// MaxSeq (68 at max_seq 512 with 3 semantic levels); the first window puts
// the loss on the type and code tokens of every span after the first, each
// later window advances by W - SequenceContext items and puts the loss on
// its new spans only, so every train event after a user's first is a
// target exactly once. The valid stage then holds each user's test event
// as the last span after the train + valid history. neo.json lists the
// template under templates["recommend_sequence"]; serving (plugin) renders
// recommend requests in the ids format with it and decodes the next span.
//
// Held-out queries and valid/test events never reach warmup, ground,
// instruct or the tokenizer's training text.
//
// # Length
//
// Text fields are cleaned (white space runs → one space) and clipped
// (title 200 runes, description 1000, brand and attributes 80, query 200),
// at a word boundary when one lies in the last fifth. A sequence longer
// than MaxSeq: warmup loses its tail; otherwise the oldest history items
// go first, then the query/context/title is shortened to the longest rune
// prefix that fits, and a sample whose completion cannot fit is dropped
// (counted in Report.Dropped). The completion is never cut.
package exporter
