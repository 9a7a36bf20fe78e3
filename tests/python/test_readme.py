"""The README's worked Vecchia example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_vecchia_example_runs(capsys):
    text = README.read_text()
    section = text[text.index("A worked Vecchia example"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope = {}
    exec(compile(code, "README.md (Python example)", "exec"), scope)
    I, D = scope["I"], scope["D"]
    assert I.shape == D.shape == (5000, 30)
    assert (I[:30] == -1).sum() == sum(30 - i for i in range(30))  # rows i < 30 padded
