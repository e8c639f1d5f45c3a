"""Builds a tiny HuggingFace text-classification pipeline here, from a config (no hub download).

A BERT of one layer (hidden size 16) with a word-level vocabulary written by this script, its
weights drawn from a fixed seed and saved with `save_pretrained` beside its tokenizer, so the
folder is what `pipeline("text-classification", model=<folder>)` loads offline. Writes
`<out>/hf-sentiment/model-settings.json` for MLServer's HuggingFaceRuntime (task, absolute
`pretrained_model`, framework "pt"), and prints one JSON line: the sentences the test sends and
what the pipeline itself answers for them (the reference both servers must give back).
"""
import argparse
import json
import os

import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertTokenizerFast,
    pipeline,
)

WORDS = "the a this movie film was is good great bad awful not very fun boring".split()
SENTENCES = ["this movie was great", "a very boring film", "not good"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    folder = os.path.join(args.out, "hf-sentiment")
    weights = os.path.join(folder, "pipeline")
    os.makedirs(weights, exist_ok=True)
    vocab_file = os.path.join(weights, "vocab.txt")
    with open(vocab_file, "w", encoding="utf-8") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        # Wide initial weights, so the sentences get different labels and scores.
        initializer_range=0.6,
        id2label={0: "NEGATIVE", 1: "POSITIVE"},
        label2id={"NEGATIVE": 0, "POSITIVE": 1},
    )
    torch.manual_seed(5)
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(weights)
    tokenizer.save_pretrained(weights)
    settings = {
        "name": "hf-sentiment",
        "implementation": "mlserver_huggingface.HuggingFaceRuntime",
        "parameters": {
            "extra": {
                "task": "text-classification",
                "pretrained_model": weights,
                "framework": "pt",
            }
        },
    }
    with open(os.path.join(folder, "model-settings.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f)
    reference = pipeline("text-classification", model=weights, framework="pt")
    print(
        json.dumps(
            {
                "sentences": SENTENCES,
                "expected": [reference(s) for s in SENTENCES],
                "transformers": __import__("transformers").__version__,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
