from artvc.workspace.scm import Git


def test_revisions_include_both_sides_of_a_merge(ws):
    ws.gen({"a": "1"})
    ws.git("add", "-A")
    ws.git("commit", "-qm", "root")
    ws.git("checkout", "-qb", "side")
    ws.gen({"b": "2"})
    ws.git("add", "-A")
    ws.git("commit", "-qm", "side")
    side = ws.git("rev-parse", "HEAD").stdout.strip()
    ws.git("checkout", "-q", "main")
    ws.gen({"c": "3"})
    ws.git("add", "-A")
    ws.git("commit", "-qm", "main")
    ws.git("merge", "-q", "--no-edit", "side")
    ws.git("branch", "-qD", "side")
    revs = list(Git.discover(ws.root).revisions(all_refs=True))
    assert side in revs and len(revs) == len(set(revs)) == 4
