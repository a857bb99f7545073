import json

from tests.pipeline.helpers import PY, lock, repro_json, statuses

# Each branch stage records when it ran; unless ART_TEST_SERIAL is set it also waits (up to 20 s) for the other
# branch to have started, so a serial run could only pass by timing out, which is recorded as saw_other=False.
BRANCH = """import json, os, sys, time
me, other = sys.argv[1], sys.argv[2]
start = time.time()
open(f"{me}.started", "w").close()
saw = False
if not os.environ.get("ART_TEST_SERIAL"):
    deadline = time.time() + 20
    while time.time() < deadline and not os.path.exists(f"{other}.started"):
        time.sleep(0.01)
    saw = os.path.exists(f"{other}.started")
data = open("in.txt").read()
open(f"{me}.txt", "w").write(me + ":" + data)
open(f"{me}.times", "w").write(json.dumps({"start": start, "end": time.time(), "saw_other": saw}))
"""

PIPELINE = f"""[stages.left]
cmd = "{PY} src/branch.py left right"
deps = ["in.txt"]
outs = ["left.txt"]

[stages.right]
cmd = "{PY} src/branch.py right left"
deps = ["in.txt"]
outs = ["right.txt"]

[stages.join]
cmd = "cat left.txt right.txt > joined.txt"
deps = ["left.txt", "right.txt"]
outs = ["joined.txt"]
"""


def _setup(ws):
    ws.gen({"in.txt": "data\n", "src": {"branch.py": BRANCH}, "art.toml": PIPELINE})


def test_independent_stages_run_at_the_same_time_and_match_a_serial_run(ws, tmp_path, monkeypatch):
    _setup(ws)
    result = repro_json(ws, "-j", "2")
    assert statuses(result) == {"left": "ran", "right": "ran", "join": "ran"}
    left = json.loads((ws.root / "left.times").read_text())
    right = json.loads((ws.root / "right.times").read_text())
    assert left["saw_other"] and right["saw_other"]
    assert left["start"] < right["end"] and right["start"] < left["end"]  # the intervals overlap

    from tests.conftest import Workspace, git

    serial_root = tmp_path / "serial"
    serial_root.mkdir()
    git(serial_root, "init", "-q")
    serial = Workspace(serial_root)
    serial.art("init")
    _setup(serial)
    monkeypatch.setenv("ART_TEST_SERIAL", "1")
    assert statuses(repro_json(serial, "-j", "1")) == {"left": "ran", "right": "ran", "join": "ran"}
    for name in ("left", "right", "join"):
        assert lock(serial)[name]["outs"] == lock(ws)[name]["outs"]
        assert lock(serial)[name]["run_key"] == lock(ws)[name]["run_key"]
    assert (serial_root / "joined.txt").read_bytes() == (ws.root / "joined.txt").read_bytes()


def test_parallel_output_is_prefixed_with_the_stage_name(ws):
    ws.gen(
        {
            "in.txt": "x",
            "art.toml": """[stages.a]
cmd = "echo hello-a && cp in.txt a.txt"
deps = ["in.txt"]
outs = ["a.txt"]

[stages.b]
cmd = "echo hello-b && cp in.txt b.txt"
deps = ["in.txt"]
outs = ["b.txt"]
""",
        }
    )
    r = ws.art("repro", "-j", "2")
    assert "[a] hello-a" in r.stdout and "[b] hello-b" in r.stdout
