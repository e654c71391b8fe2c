"""The Dagster UI and the dbt docs site in a real browser: each served on a free loopback
port, headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium), the
asset graph, an asset's page and the training set's lineage graph, with screenshots.

Screenshots go to UI_SCREENSHOT_DIR when set (`make screenshot` refreshes the docs'
docs/images/ that way), else to the test's temporary folder.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO_ROOT, warehouse_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
LOCATION = "orchestration.definitions"
SOURCE_TABLES = ("customers", "products", "orders", "order_items", "events")

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="headless Chromium is not installed (Debian: apt-get install chromium chromium-driver)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, server: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{url} did not come up:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)


def stop(server: subprocess.Popen, how: signal.Signals = signal.SIGTERM) -> None:
    os.killpg(server.pid, how)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """dagster-webserver for the code location, with its own DAGSTER_HOME and data paths."""
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    env = {**warehouse_env(root), "DAGSTER_HOME": str(home)}
    port = free_port()
    log = (root / "webserver.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-webserver"),
            "-m",
            LOCATION,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the code server goes with it
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/server_info", server, root / "webserver.log")
        yield url
    finally:
        stop(server)
        log.close()


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`make docs` itself (dbt docs as one static page, served on 127.0.0.1), on a fresh
    checkout's footing: an empty warehouse and lake, so the catalog is empty but the
    manifest, whose graph the lineage view draws, is whole."""
    root = tmp_path_factory.mktemp("docs")
    port = free_port()
    log_path = root / "make-docs.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            ["make", "--no-print-directory", "docs", f"DOCS_PORT={port}", f"DOCS_DIR={root}"],
            cwd=REPO_ROOT,
            env=warehouse_env(root),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make, dbt and its web server go together
            # pytest-xdist's workers ignore SIGINT, and children inherit that: give the
            # server back its Ctrl+C
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/", server, log_path)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(server, signal.SIGINT)  # Ctrl+C, as `make docs` says


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        # Tall enough for the whole ML group's graph: the UI leaves out what lies outside
        # the window, and the test looks for fct_orders, upstream at its edge.
        "--window-size=1600,2000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("UI_SCREENSHOT_DIR") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(driver, url: str, *expected: str, timeout: float = 90) -> str:
    """Load `url` and wait until the page (a React app fed by GraphQL) shows every string."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(
            lambda d: all(text in d.page_source for text in expected)
        )
    except Exception:
        missing = [text for text in expected if text not in driver.page_source]
        pytest.fail(f"{url} never showed {missing}; title {driver.title!r}")
    time.sleep(1.5)  # let the graph layout settle before the screenshot
    return driver.page_source


def test_asset_graph_and_an_asset_page_render(webserver, browser, screenshots):
    # dismiss the first-visit community dialog the way the UI remembers it
    browser.get(f"{webserver}/server_info")
    browser.execute_script("window.localStorage.setItem('communityNux', '\"1\"')")

    open_page(
        browser,
        f"{webserver}/locations/{LOCATION}/asset-groups/ml",
        "ml_training_set",
        "ml_customer_labels",
        "fct_orders",  # upstream of the ML layer, shown as a link to its group
    )
    graph = screenshots / "asset-graph.png"
    assert browser.save_screenshot(str(graph)) and graph.stat().st_size > 10_000

    page = open_page(
        browser,
        f"{webserver}/assets/marts/fct_orders",
        "fct_orders",
        "order_id",
        "Business identifier of the order.",  # column descriptions from dbt
        "analytics-engineering",  # owner by layer
        "daily_warehouse_build",
    )
    assert "lake_partition_sensor" in page
    asset_page = screenshots / "asset-fct-orders.png"
    assert browser.save_screenshot(str(asset_page)) and asset_page.stat().st_size > 10_000
    print(f"screenshots: {graph} {asset_page}")


def test_docs_lineage_graph_of_the_training_set_reaches_the_raw_sources(
    docs_site, browser, screenshots
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    training_set = "model.ml_warehouse.ml_training_set"
    open_page(browser, f"{docs_site}/#!/model/{training_set}", "ml_training_set", "Datasheet")
    browser.find_element(By.CSS_SELECTOR, "[title='View Lineage Graph']").click()
    # the sidebar graph shows the model's neighbours; full screen draws its whole
    # selection, +ml_training_set+ (every ancestor and descendant)
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "[title='View Fullscreen']").is_displayed()
    )
    browser.find_element(By.CSS_SELECTOR, "[title='View Fullscreen']").click()
    # dbt docs draws the graph with cytoscape.js on a canvas; its instance is window.graph
    visible_nodes = """
        return window.graph ? window.graph.nodes().filter(n => n.visible()).map(n => n.id()) : [];
    """
    raw_sources = {f"source.ml_warehouse.shop.{table}" for table in SOURCE_TABLES}
    try:
        WebDriverWait(browser, 60, poll_frequency=0.5).until(
            lambda d: raw_sources <= set(d.execute_script(visible_nodes))
        )
    except Exception:
        shown = sorted(browser.execute_script(visible_nodes))
        pytest.fail(f"the lineage graph of {training_set} shows {shown}, not every raw source")
    shown = set(browser.execute_script(visible_nodes))
    assert {
        training_set,
        # the customers' history the features read, rebuilt from the lake (not a snapshot)
        "model.ml_warehouse.int_customers_known_by_as_of_date",
        "seed.ml_warehouse.currencies",
    } <= shown
    assert "exposure.ml_warehouse.churn_model_training" in shown  # its consumer
    browser.execute_script("document.querySelectorAll('.tooltip').forEach(t => t.remove())")
    time.sleep(1.5)  # the layout animates into place
    lineage = screenshots / "docs-lineage-training-set.png"
    assert browser.save_screenshot(str(lineage)) and lineage.stat().st_size > 10_000
    print(f"screenshot: {lineage}")
