"""Generate the course's demo website into data/site (deterministic: same output every run).

    python tools/make_site.py            # rewrite data/site
    python tools/make_site.py OUT_DIR    # write it somewhere else (the tests compare the two)

The site is a small blog about asyncio: a home page, an about page, five topic pages and seven
articles per topic, a private page that robots.txt disallows. Links are relative (a scraper
must resolve them with ``urljoin``), some carry a ``#fragment``, one points off-site and one to
a page that does not exist (404). Topic pages link to their first three articles only; each
article links to the next one, so the later articles of a topic are deeper than the others.

``manifest.json`` describes every page (title, links resolved to site paths) and the behaviour
that :class:`asynclab.servers.site.DemoSite` gives some pages by default: a longer latency, a
fixed error status, a slow answer, or a "flaky" page that fails its first K requests.
"""

from __future__ import annotations

import html
import json
import random
import sys
from pathlib import Path
from posixpath import dirname, join, normpath, relpath

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "data" / "site"

TOPICS = {
    "basics": ("Basics", ["Coroutines from scratch", "What await really does",
                          "The event loop, explained", "Tasks & futures",
                          "Why async is not parallel", "Sleeping without blocking",
                          "Reading a traceback"]),
    "networking": ("Networking", ["One session for everything", "Timeouts that hold",
                                  "Retries & backoff", "Connection pools",
                                  "Streaming a response", "Parsing HTML politely",
                                  "When the server says 503"]),
    "patterns": ("Patterns", ["Fan-out, fan-in", "Bounded concurrency", "Worker pools",
                              "Producer & consumer", "Rate limiting", "Cancellation done right",
                              "Structured concurrency"]),
    "testing": ("Testing", ["Testing coroutines", "Fakes for servers", "Deterministic time",
                            "Catching leaked tasks", "Flaky tests & how to fix them",
                            "Debug mode", "Profiling the loop"]),
    "history": ("History", ["Callbacks", "Generators as coroutines", "yield from",
                            "async & await arrive", "TaskGroup", "Eager tasks",
                            "Free threading"]),
}
ARTICLES_PER_TOPIC = 7
WORDS = ("loop task await future socket request answer timeout session connection page "
         "server client queue worker permit window buffer stream handler callback thread "
         "latency backoff retry limit signal result error cancel gather").split()

#: Default behaviour of some pages (DemoSite reads it; its constructor can override it).
BEHAVIOUR = {
    "latency": {"/topics/networking.html": 0.1, "/topics/testing.html": 0.1},
    "errors": {"/articles/patterns-2.html": 500, "/articles/testing-3.html": 503},
    "slow": {"/articles/networking-2.html": 3.0},
    "flaky": {"/articles/basics-4.html": 2},
}


def slugify(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def paragraph(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(25, 45))]
    return " ".join(words).capitalize() + "."


def page(title: str, path: str, body: list[str], links: list[tuple[str, str]]) -> str:
    """One HTML page; ``links`` are (target site path or absolute URL, text)."""
    items = []
    for target, text in links:
        href = target
        if target.startswith("/"):
            path_part, _, fragment = target.partition("#")
            href = relpath(path_part, dirname(path))
            if fragment:
                href += "#" + fragment
        items.append(f'    <li><a href="{html.escape(href)}">{html.escape(text)}</a></li>')
    paras = "\n".join(f"  <p>{html.escape(p)}</p>" for p in body)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
            f"  <title>{html.escape(title)} | Async Notes</title>\n</head>\n<body>\n"
            f"  <h1>{html.escape(title)}</h1>\n{paras}\n  <ul>\n"
            + "\n".join(items) + "\n  </ul>\n</body>\n</html>\n")


def build() -> dict[str, str]:
    """Every file of the site: {site path: text}."""
    rng = random.Random(9)
    files: dict[str, str] = {}
    pages: dict[str, dict[str, object]] = {}

    def add(path: str, title: str, body: list[str], links: list[tuple[str, str]]) -> None:
        files[path] = page(title, path, body, links)
        on_site = []
        for target, _ in links:
            if target.startswith("/"):
                clean = normpath(join(dirname(path), target.partition("#")[0]))
                if clean not in on_site:
                    on_site.append(clean)
        pages[path] = {"title": f"{title} | Async Notes", "links": on_site}

    topic_paths = {key: f"/topics/{key}.html" for key in TOPICS}
    add("/index.html", "Home", [paragraph(rng)],
        [(p, TOPICS[k][0]) for k, p in topic_paths.items()]
        + [("/about.html", "About"), ("/private/drafts.html", "Drafts")])
    add("/about.html", "About this site", [paragraph(rng), paragraph(rng)],
        [("/index.html", "Home"), ("https://example.org/asyncio", "Elsewhere"),
         ("/about.html#contact", "Contact")])
    add("/private/drafts.html", "Drafts (keep out)", [paragraph(rng)], [("/index.html", "Home")])
    for key, (name, titles) in TOPICS.items():
        articles = [f"/articles/{key}-{n}.html" for n in range(1, ARTICLES_PER_TOPIC + 1)]
        add(topic_paths[key], f"Topic: {name}", [paragraph(rng)],
            [("/index.html", "Home"),
             *((a, t) for a, t in zip(articles[:3], titles[:3], strict=True))])
        for n, (path, title) in enumerate(zip(articles, titles, strict=True), start=1):
            links = [(topic_paths[key], f"More about {name}"), ("#top", "Back to top")]
            if n < ARTICLES_PER_TOPIC:
                links.append((articles[n], f"Next: {titles[n]}"))
            other = rng.choice([k for k in TOPICS if k != key])
            links.append((f"/articles/{other}-{rng.randint(1, 3)}.html", "See also"))
            if (key, n) == ("basics", 2):
                links.append(("/articles/basics-0.html", "An article that was removed"))
            add(path, title, [paragraph(rng) for _ in range(rng.randint(2, 4))],
                [(path + target if target.startswith("#") else target, text)
                 for target, text in links])
    files["/robots.txt"] = "User-agent: *\nDisallow: /private/\n"
    manifest = {"pages": pages, **BEHAVIOUR}
    files["/manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    return files


def write(out: Path) -> None:
    for path, text in build().items():
        target = out / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else SITE)
