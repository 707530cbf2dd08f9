"""Every Python snippet of README.md and docs/*.md runs, so none goes stale.

Each ```python block runs in a fresh namespace from the repository root. A block
that cannot run here (a long run, a cluster) is marked by a comment on the line
right above its opening fence, ``<!-- not-run: reason -->``, or by a first line
``# long-run: reason``; it is skipped with that reason. Shell blocks are not run.
"""

import re
import warnings
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(.+?)\s*-->\s*$")
LONG_RUN = re.compile(r"^#\s*long-run:\s*(.+?)\s*$")


def python_blocks(path):
    """``(line of the opening fence, code, reason to skip or None)`` for each python block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i
        i += 1
        body = []
        while i < len(lines) and not FENCE.match(lines[i]):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path.name}:{start + 1}: a code block is never closed")
        i += 1  # the closing fence
        if lang != "python":
            continue
        above = next((line for line in reversed(lines[:start]) if line.strip()), "")
        reason = NOT_RUN.match(above.strip())
        first = LONG_RUN.match(body[0].strip()) if body else None
        blocks.append((start + 1, "\n".join(body) + "\n",
                       (reason or first).group(1) if (reason or first) else None))
    return blocks


SNIPPETS = [pytest.param(path, line, code, reason, id=f"{path.relative_to(REPO)}:{line}")
            for path in PAGES for line, code, reason in python_blocks(path)]


def test_the_readme_has_snippets_that_run():
    readme = [p for p in SNIPPETS if p.values[0].name == "README.md"]
    assert sum(p.values[3] is None for p in readme) >= 3


@pytest.mark.parametrize("path, line, code, reason", SNIPPETS)
def test_snippet_runs(path, line, code, reason, monkeypatch):
    if reason is not None:
        pytest.skip(reason)
    monkeypatch.chdir(REPO)
    before = set(REPO.iterdir())
    namespace = {"__name__": "__main__"}
    # one BLAS thread: the snippets' matrices are small, and other processes may
    # be running on the same cores (see docs/performance.md)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
    assert set(REPO.iterdir()) == before, "the snippet left files in the repository root"


def test_readme_starts_with_the_two_commands_ci_runs():
    """The README's first code block: install and run the main workflow, then
    install and run the tests, which is what .ci/run runs."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first = re.search(r"^```bash\n(.*?)^```", text, re.S | re.M).group(1).splitlines()
    assert first == ['pip install -e ".[mlflow,ecg]" && python -m pipelines ecg --quick',
                     'pip install -e ".[test]" && python -m pytest -q']
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert 'python -m pip install -q -e ".[test]" && python -m pytest -q' in ci


#: pages that other branches add (linked from docs/index.md before they land)
PAGES_OF_OTHER_BRANCHES = {"architectures.md", "ecg-features.md", "mlflow.md",
                           "progress-and-errors.md", "results-ucr.md"}


def _anchors(path):
    """GitHub's anchors of the headings of a Markdown file."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.S | re.M)
    heads = re.findall(r"^#+\s+(.+?)\s*$", text, re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve(page):
    """Relative links of README.md and docs/*.md name files (and headings) that exist."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    broken = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
        if "://" in target:
            continue
        path = (page.parent / target).resolve() if target else page
        if path.name in PAGES_OF_OTHER_BRANCHES and not path.exists():
            continue
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(f"{target}#{anchor}" if anchor else target)
    assert broken == []


def test_readme_never_points_at_the_developers_shared_folder():
    for path in PAGES:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text and "/work/" not in text, path.name
