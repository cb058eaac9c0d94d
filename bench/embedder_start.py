"""What loading the embedder costs a new process: the app's plain path (transformers alone,
``pipelines/knowledge/sentence_encoder.py``) against sentence-transformers on the same model folder.

    python bench/embedder_start.py [--rounds 3]

Each round starts one fresh Python process per path, in alternating order, that imports what it needs, loads the
offline MiniLM and embeds one sentence; the CPU time of each process (user + system, its own rusage) is compared.
Prints ``plain / sentence-transformers`` of the median CPU seconds (goal <= 0.7) and the vectors' largest
difference on a few texts (goal < 0.00001: the same vectors).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
from pipelines.knowledge.embeddings import offline_minilm_folder
folder = str(offline_minilm_folder())
texts = ["Where is the Kelvarra office?", "The travel policy covers economy flights for trips under six hours."]
if {plain}:
    from pipelines.knowledge.sentence_encoder import PlainSentenceEncoder
    model = PlainSentenceEncoder.load(folder)
else:
    from sentence_transformers import SentenceTransformer
    model = SentenceTransformer(folder, device="cpu")
vectors = model.encode(texts, batch_size=32, normalize_embeddings=True).tolist()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"cpu": usage.ru_utime + usage.ru_stime, "vectors": vectors}}))
"""


def one_process(plain: bool) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), plain=plain)], capture_output=True,
                          text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    plain, library = [], []
    for round_number in range(args.rounds):
        order = (True, False) if round_number % 2 == 0 else (False, True)
        for is_plain in order:
            (plain if is_plain else library).append(one_process(is_plain))
    plain_cpu = statistics.median(p["cpu"] for p in plain)
    library_cpu = statistics.median(p["cpu"] for p in library)
    difference = max(abs(a - b) for p, q in zip(plain, library, strict=True)
                     for u, v in zip(p["vectors"], q["vectors"], strict=True) for a, b in zip(u, v, strict=True))
    print(f"Embedder load + first embedding, {args.rounds} fresh processes each "
          f"(median CPU: plain {plain_cpu:.2f} s, sentence-transformers {library_cpu:.2f} s)")
    print(f"  CPU, plain / sentence-transformers : {plain_cpu / library_cpu:.2f} (goal <= 0.7)")
    print(f"  largest vector difference : {difference:.7f} (goal < 0.00001)")


if __name__ == "__main__":
    main()
