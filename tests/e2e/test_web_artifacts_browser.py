"""Artifact pages in real Chromium (fixtures of test_web_browser.py): the run page links to
a version's page; the version page shows its files, previews, aliases, producer and
consumers; the versions list and the project's artifacts link on; the lineage graph's
nodes navigate, and its hops control changes the graph and the address."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mytrack._internal.transport import webui
from tests.e2e.test_web_browser import _quiet, browser, shot, until, web  # noqa: F401 - fixtures
from tests.integration.test_web_artifacts import log_chain


def test_artifact_pages_links_previews_and_lineage(
    browser: Any, web: webui.WebAddress, project: str, workdir: Path,  # noqa: F811
    shot: Callable[[str], Path],  # noqa: F811
) -> None:
    """From the train run's page to model:v0, its producer and consumer, the dataset page
    through the lineage graph, its files and previews, its versions and the project list."""
    from selenium.webdriver.common.by import By

    chain = log_chain(project, workdir)
    browser.get(chain.train.url)
    link = until(browser, "document.querySelector('#artifacts a.artifact-link')", "the run's artifact links")
    assert {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#artifacts a.artifact-link")} == {
        "dataset:v0", "model:v0"}
    shot("run")
    model = next(e for e in browser.find_elements(By.CSS_SELECTOR, "#artifacts a.artifact-link")
                 if e.text == "model:v0")
    del link
    model.click()
    until(browser, "document.getElementById('artifact-title')", "the version page")
    path = unquote(urlsplit(browser.current_url).path)
    assert path == f"/{chain.train.entity}/{project}/artifacts/model/model/v0"
    assert "latest" in browser.find_element(By.ID, "artifact-title").text
    producer = browser.find_element(By.CSS_SELECTOR, "#artifact-producer a.run-link")
    assert producer.text == "train" and producer.get_attribute("data-run") == chain.train.path
    consumers = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#artifact-consumers a.run-link")]
    assert consumers == ["eval"]

    # Lineage: 3 hops by default (prepare too); at 1 hop train -> model -> eval; 2 reach the
    # dataset and the results.
    until(browser, "document.querySelectorAll('#lineage-graph [data-node]').length === 6", "6 lineage nodes")
    browser.find_element(By.CSS_SELECTOR, "#lineage-hops option[value='1']").click()
    until(browser, "document.querySelectorAll('#lineage-graph [data-node]').length === 3", "1 hop: 3 nodes")
    browser.find_element(By.CSS_SELECTOR, "#lineage-hops option[value='2']").click()
    until(browser, "document.querySelectorAll('#lineage-graph [data-node]').length === 5", "2 hops: 5 nodes")
    assert parse_qs(urlsplit(browser.current_url).query)["hops"] == ["2"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#lineage-graph path.edge")) == 4
    shot("lineage")
    dataset_node = until(browser, """Array.from(document.querySelectorAll('#lineage-graph a.node'))
        .find(a => a.textContent.indexOf('dataset:v0') >= 0)""", "the dataset node")
    dataset_node.click()
    until(browser, "document.getElementById('artifact-title') && "
                   "/dataset:v0/.test(document.getElementById('artifact-title').textContent)", "dataset:v0's page")
    assert parse_qs(urlsplit(browser.current_url).query)["hops"] == ["2"]
    until(browser, "document.querySelectorAll('#lineage-graph [data-node]').length === 4",
          "dataset:v0 at 2 hops: prepare, dataset, train, model")

    # Files: a folder, a CSV shown as a table, an image, JSON.
    until(browser, "document.querySelector('#files-table a.folder-link')", "the files browser")
    metadata = browser.find_element(By.ID, "artifact-metadata").text
    assert "rows" in metadata and "unit" in metadata
    browser.find_element(By.CSS_SELECTOR, "#files-table a.folder-link").click()
    until(browser, "document.querySelector('#files-table tr[data-file=\"data/train.csv\"]')", "the data folder")
    browser.find_element(By.CSS_SELECTOR, "tr[data-file='data/train.csv'] a.file-link").click()
    until(browser, "document.querySelector('#artifact-preview[data-kind=table] #preview-table')", "the CSV table")
    cells = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#preview-table td")]
    assert cells == ["1", "2", "3", "4"]
    browser.find_element(By.CSS_SELECTOR, "#files-dir a").click()  # back to the root
    until(browser, "document.querySelector('tr[data-file=\"image.png\"] a.file-link')", "the root folder")
    browser.find_element(By.CSS_SELECTOR, "tr[data-file='image.png'] a.file-link").click()
    width = until(browser, "(document.querySelector('#artifact-preview img') || {}).naturalWidth",
                  "the image to load")
    assert width == 8
    shot("image")
    browser.find_element(By.CSS_SELECTOR, "tr[data-file='info.json'] a.file-link").click()
    text = until(browser, "document.querySelector('#artifact-preview[data-kind=json] pre') && "
                          "document.querySelector('#artifact-preview pre').textContent", "the JSON preview")
    assert '"seed": 7' in text

    # The versions list, then the project's artifacts, reached through the crumbs.
    browser.find_element(By.CSS_SELECTOR, "#crumbs a[href*='/artifacts/dataset/dataset']").click()
    until(browser, "document.querySelectorAll('#versions-table tr[data-version]').length === 2", "two versions")
    rows = browser.find_elements(By.CSS_SELECTOR, "#versions-table tr[data-version]")
    assert [r.get_attribute("data-version") for r in rows] == ["v1", "v0"]
    assert "best" in rows[0].text and "prepare" in rows[0].text and "1 run" in rows[1].text
    shot("versions")
    rows[0].find_element(By.CSS_SELECTOR, "a.version-link").click()
    until(browser, "document.getElementById('artifact-title') && "
                   "/dataset:v1/.test(document.getElementById('artifact-title').textContent)", "dataset:v1")
    browser.get(f"{web.base}/{chain.train.entity}/{project}")
    until(browser, "document.getElementById('project-artifacts')", "the runs page's artifacts link").click()
    until(browser, "document.querySelectorAll('#artifacts-table tr[data-artifact]').length === 3", "3 artifacts")
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#artifacts-table a.artifact-link")]
    assert names == ["dataset", "results", "model"]
    shot("artifacts")
