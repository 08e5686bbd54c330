package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/neo-search/neo/exporter/trainer"
	"github.com/neo-search/neo/index"
	"github.com/neo-search/neo/onnx"
	"github.com/neo-search/neo/plugin"
	"github.com/neo-search/neo/sid"
)

func init() {
	register(command{name: "doctor", summary: "check the onnxruntime library and the training toolchain", run: runDoctor})
}

func runDoctor(args []string) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	lib := fs.String("lib", "", "onnxruntime library to check (default: the usual lookup)")
	model := fs.String("model", "", "also load this model directory and print its dimensions")
	python := fs.String("python", trainer.Python, "python interpreter used by neo train")
	indexDir := fs.String("index", "", "with --model: also count the catalog items (of this index directory; not while neo serve holds it) the model never saw in training")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: neo doctor [--lib PATH] [--model DIR] [--python PATH]\n\nFinds and loads the onnxruntime library, prints its path and version, and checks\nthat the trainer's python has torch.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ok := true

	fmt.Println("onnxruntime:")
	if path, err := onnx.FindLibrary(*lib); err != nil {
		fmt.Printf("  FAIL  %v\n", err)
		ok = false
	} else {
		fmt.Printf("  path     %s\n", path)
		if err := onnx.Init(path); err != nil {
			fmt.Printf("  FAIL  %v\n", err)
			if errors.Is(err, onnx.ErrLibraryVersion) {
				fmt.Printf("        fix: scripts/install-onnxruntime.sh installs onnxruntime %s; unset %s if it points elsewhere\n", onnx.LibraryVersion, onnx.EnvLibrary)
			}
			ok = false
		} else {
			v := onnx.Version()
			note := ""
			if v != onnx.LibraryVersion {
				note = fmt.Sprintf(" (neo is tested with %s; this one provides the same C API)", onnx.LibraryVersion)
			}
			fmt.Printf("  version  %s%s\n  ok\n", v, note)
		}
	}

	if *model != "" {
		fmt.Println("model:")
		m, err := onnx.Load(*model, onnx.Config{LibraryPath: *lib})
		if err != nil {
			fmt.Printf("  FAIL  %v\n", err)
			ok = false
		} else {
			d := m.Dims()
			keep := "no num_logits_to_keep: prefill computes logits for every position (re-export to add it)"
			if d.KeepLogits {
				keep = "num_logits_to_keep: prefill computes the last position's logits only"
			}
			fmt.Printf("  %s: %d layers, %d kv heads, head dim %d, vocab %d\n  %s\n", m.Path(), d.Layers, d.KVHeads, d.HeadDim, d.Vocab, keep)
			m.Close()
		}
		if *indexDir != "" && !doctorDrift(*indexDir, *model) {
			ok = false
		}
	}

	// Training is optional for serving, so a missing torch is a warning.
	fmt.Println("training (neo train):")
	env := trainer.Check(*python)
	switch {
	case env.Err != nil:
		fmt.Printf("  WARN  %s cannot import torch/numpy: %v\n", *python, env.Err)
		fmt.Println("        fix: apt-get install python3-torch python3-numpy (only neo train needs them)")
	default:
		fmt.Printf("  python   %s\n  torch    %s (%s)\n  numpy    %s\n  ok\n", *python, env.Torch, env.Device, env.NumPy)
	}
	if env.ONNX != "" {
		fmt.Printf("  onnx     %s (export folds the graph and adds num_logits_to_keep with it)\n", env.ONNX)
	} else if _, err := os.Stat(*python); err == nil {
		fmt.Printf("  WARN  %s cannot import onnx: exports keep the unfolded graph and no num_logits_to_keep\n", *python)
		fmt.Println("        fix: apt-get install python3-onnx")
	}

	if !ok {
		return 1
	}
	return 0
}

// doctorDrift prints how many catalog items the model never saw.
func doctorDrift(dir, model string) bool {
	fmt.Println("catalog drift:")
	cat, err := index.Open(dir)
	if err != nil {
		fmt.Printf("  FAIL  %v\n", err)
		return false
	}
	items, err := cat.Items()
	cat.Close()
	if err != nil {
		fmt.Printf("  FAIL  %v\n", err)
		return false
	}
	withSID, unseen, known, err := plugin.CatalogDrift(model, items)
	switch {
	case err != nil:
		fmt.Printf("  FAIL  %v\n", err)
		return false
	case !known:
		fmt.Printf("  WARN  %s has no %s: cannot tell which items the model saw\n", model, sid.AssignmentsFile)
	default:
		fmt.Printf("  %d items, %d with an SID; %d of those the model never saw in training (new, or a new SID)\n", len(items), withSID, unseen)
		if withSID > 0 && unseen*10 > withSID {
			fmt.Println("  WARN  over 10% of the catalog is new to the model: consider retraining (neo train)")
		}
	}
	return true
}
