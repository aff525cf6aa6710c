"""What the room's quiz costs the server with a full lecture hall.

  answer             one answer written (a file created exclusively)
  live refresh       the host's screen every 2 s: the tally kept between refreshes, one new answer
                     since the last (a folder listing per answerer, one file read)
  full tally         counting every answer from scratch (once per server when a round is revealed)
  current round      what every screen reads every 3 s to follow the round

For MAX_ANSWERERS answerers who each answered MAX_PAIRS - 1 pairs (and then the last, one by one, while
the host's screen refreshes), in a temporary runs folder.

Usage: python bench/bench_room_quiz.py [--answerers N] [--repeats N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_latency import timed  # noqa: E402

from gen_core.serve import quiz, quiz_answers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answerers", type=int, default=quiz_answers.MAX_ANSWERERS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        current = quiz.start_round(root, "vae-mnist", "digits", quiz.MAX_PAIRS, 0, 10_000, "lecturer")
        names = iter(f"session-{n:05d}" for n in range(args.answerers))

        def answer_all_pairs() -> None:
            who = next(names)
            for pair in range(1, quiz.MAX_PAIRS):  # pair 0 is answered late, below
                quiz_answers.answer(root, current.id, who, pair, "left")

        writes = [ms / (quiz.MAX_PAIRS - 1) for ms in timed(answer_all_pairs, args.answerers)]
        live = quiz_answers.RoomTally(root, current)
        live.count()
        late = iter(range(args.answerers))

        def one_more_answer(tally) -> None:  # one more answer lands, then the host's screen refreshes
            quiz_answers.answer(root, current.id, f"session-{next(late):05d}", 0, "right")
            tally.count()

        results = {
            "answerers": args.answerers, "pairs": quiz.MAX_PAIRS,
            "answer_ms": statistics.median(writes),
            "live_refresh_ms": statistics.median(timed(lambda: one_more_answer(live), args.repeats)),
            "full_tally_ms": statistics.median(timed(lambda: quiz_answers.tally(root, current), args.repeats)),
            "current_round_ms": statistics.median(timed(lambda: quiz.current_round(root), args.repeats)),
        }
        assert quiz_answers.tally(root, current).answered == live.count().answered
    for name, value in results.items():
        print(f"{name:18s} {value:.2f}" if isinstance(value, float) else f"{name:18s} {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
