"""The README's Screenshots section shows images the browser suite writes:
every linked file exists, and every name it links is one a browser test takes."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_readme_links_existing_screenshots():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Screenshots", 1)[1].split("\n## ", 1)[0]
    linked = re.findall(r"\]\((docs/screenshots/([a-z_]+)\.png)\)", section)
    assert len(linked) >= 10
    taken = set()
    for test in (ROOT / "tests" / "browser").glob("test_*.py"):
        text = test.read_text()
        taken |= set(re.findall(r'screenshot\(page, "([a-z_]+)"\)', text))
        taken |= set(re.findall(r'^\s+"([a-z_]+)": \("/', text, re.M))  # the {name: (path, heading)} page tables
    for path, name in linked:
        assert (ROOT / path).is_file(), path
        assert name in taken, f"{name}.png is not taken by any browser test (make screenshots would not refresh it)"
