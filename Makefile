# neo — the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
NEO   := bin/neo
INDEX := .neo/index
DEMO  := testdata/demo
ADDR  ?= 127.0.0.1:8080
MODEL := testdata/model

.PHONY: setup build demo demo-data test test-go test-trainer test-scripts fuzz fmt vet

setup:
	@bash scripts/setup.sh

build:
	go build -buildvcs=auto -o $(NEO) ./cmd/neo

# Imports the demo catalog, assigns SIDs and serves it on $(ADDR).
demo: setup build
	rm -rf $(INDEX) $(INDEX).quantizer.json
	$(NEO) import --index $(INDEX) $(DEMO)
	$(NEO) sids --index $(INDEX) --interactions $(DEMO)/interactions.ndjson $$(test -f $(MODEL)/sids.tsv && echo --from $(MODEL))
	$(NEO) serve --index $(INDEX) --model $(MODEL) --addr $(ADDR)

# Regenerates the demo catalog from its fixed-seed generator.
demo-data:
	go run ./testdata/gen

test: setup test-go test-trainer test-scripts

test-go:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: the files above need make fmt"; exit 1; }
	go vet ./... ./testdata/gen/
	go test -count=1 ./... ./testdata/gen/

# Every fuzz target for FUZZTIME each (default 10s): make fuzz FUZZTIME=1m
fuzz:
	scripts/fuzz.sh

# Trainer smoke test: tiny synthetic shards, a few steps per stage, ONNX
# export, then the Go parity test against the exported model.
test-trainer:
	bash exporter/py/test_smoke.sh

# Analysis scripts (sid_markov: standard library; sasrec: torch, as the trainer).
test-scripts:
	$${PYTHON:-/usr/bin/python3} scripts/test_sid_markov.py
	$${PYTHON:-/usr/bin/python3} scripts/test_sasrec.py

fmt:
	gofmt -w $$(git ls-files '*.go')
