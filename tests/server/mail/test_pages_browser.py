"""The three pages the mails open, in a real headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by Selenium): the link from a mail that arrived at the SMTP server, the
form filled and posted as a person would (no JavaScript on the pages), mistakes shown in Spanish,
and the used link's page afterwards. Also the HTML mail itself, rendered.

Without the browser these tests skip, except under scripts/test.sh, which installs it and sets
CMDESK_TEST_REQUIRE_BROWSER=1: there a missing browser fails them. CMDESK_SCREENSHOTS=<folder>
keeps a PNG of every page looked at."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from cmdesk.models import Account, Profile
from cmdesk.server import db
from cmdesk.server.operations import contracts, distributors
from tests.server.helpers import RFC_MORAL, make_distributor
from tests.server.mail.conftest import html_of, link_of, sign_in, wait_for

# One database kind is enough for a browser: the flows themselves run on both in test_flows_over_smtp.
pytestmark = pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
NEW_PASSWORD = "NuevaClave2026"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (os.path.exists(p) or shutil.which(Path(p).name))]
    if missing:
        message = f"headless Chromium is not installed ({', '.join(missing)}): apt-get install chromium chromium-driver"
        if os.environ.get("CMDESK_TEST_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if os.path.exists(CHROMIUM) else str(shutil.which("chromium"))
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1366,768", "--lang=es-MX"):
        options.add_argument(arg)
    driver = webdriver.Chrome(
        service=Service(CHROMEDRIVER if os.path.exists(CHROMEDRIVER) else str(shutil.which("chromedriver"))),
        options=options,
    )
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver, name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    folder = os.environ.get("CMDESK_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


def _fill(driver, **fields: str) -> None:
    """Fill the form and post it, then wait for the answer page (the old page gone): reading the page
    right after the click could still read the form, on a busy machine."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    for name, value in fields.items():
        box = driver.find_element(By.NAME, name)
        box.clear()
        box.send_keys(value)
    old_page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # chromedriver may answer a question about the old page, asked while the new one replaces it,
    # with "Node with given id does not belong to the document" instead of a stale element: that
    # too means the old page is going (`ignored_exceptions` makes the wait ask again; a page that never
    # goes still fails, at the timeout).
    WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(
        expected_conditions.staleness_of(old_page)
    )


def _text(driver) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def test_confirm_page(factory, smtp, live, browser, tmp_path):
    from selenium.webdriver.common.by import By

    actor = make_distributor(factory, name="Distribuidora Ana", email="ana@dist.mx", mobile="5511111111")
    db.run(factory, contracts.contract, actor, "multinivel")
    out = db.run(
        factory, distributors.create_sub_distributor, actor,
        email="laura@heavensoft.mx", mobile="9616058925", name="HEAVEN SOFT S.A. de C.V.", rfc=RFC_MORAL, profile_name="Laura",
    )
    mail = wait_for(lambda: smtp.recorder.to("laura@heavensoft.mx"), what="the confirmation mail")[0]
    link = link_of(mail)

    # The mail as a person sees it.
    mail_file = tmp_path / "correo-confirmacion.html"
    mail_file.write_text(html_of(mail), encoding="utf-8")
    browser.get(mail_file.as_uri())
    assert "Confirmar mi correo" in _text(browser) and "HEAVEN SOFT" in _text(browser)
    _shot(browser, "mail-confirmacion", tmp_path)

    browser.get(link)
    assert browser.title.startswith("Confirme su correo")
    assert "laura@heavensoft.mx" in _text(browser) and out["distributor"]["nic"] in _text(browser)
    assert browser.find_element(By.CSS_SELECTOR, "label[for=password]").text == "Contraseña nueva"
    _shot(browser, "pagina-confirmar", tmp_path)
    _fill(browser, password=NEW_PASSWORD, password2="OtraCosa2026")
    assert "Las dos contraseñas no coinciden" in _text(browser)
    assert browser.find_element(By.ID, "password2").get_attribute("aria-invalid") == "true"
    _shot(browser, "pagina-confirmar-error", tmp_path)
    with db.transaction(factory) as s:
        assert s.get(Account, out["distributor"]["id"]).status == "unvalidated"

    _fill(browser, password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert "Su correo quedó confirmado" in _text(browser) and "Sin activar" in _text(browser)
    _shot(browser, "pagina-confirmar-listo", tmp_path)
    with db.transaction(factory) as s:
        assert s.get(Account, out["distributor"]["id"]).status == "inactive"

    browser.get(link)
    assert "Este enlace ya se usó" in _text(browser) and "No se cambió nada" in _text(browser)
    _shot(browser, "pagina-enlace-usado", tmp_path)


def test_invitation_page(factory, smtp, live, browser, tmp_path):
    make_distributor(factory, name="Distribuidora Ana", email="ana@dist.mx", mobile="5511111111", password="secreto123")
    token = sign_in(live.url, "ana@dist.mx", "secreto123").json()["access_token"]
    r = requests.post(
        f"{live.url}/v1/users", json={"email": "alicia@dist.mx", "mobile": "5522223333", "name": "Alicia"},
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )
    assert r.status_code == 201
    mail = wait_for(lambda: smtp.recorder.to("alicia@dist.mx"), what="the invitation")[0]
    mail_file = tmp_path / "correo-invitacion.html"
    mail_file.write_text(html_of(mail), encoding="utf-8")
    browser.get(mail_file.as_uri())
    _shot(browser, "mail-invitacion", tmp_path)

    browser.get(link_of(mail))
    assert "Defina su contraseña" in _text(browser) and "Distribuidora Ana" in _text(browser)
    _shot(browser, "pagina-invitacion", tmp_path)
    _fill(browser, name="Alicia López", password="corta", password2="corta")
    assert "Revise los datos marcados" in _text(browser) and "8" in _text(browser)
    _fill(browser, name="Alicia López", password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert "Ya tiene acceso" in _text(browser)
    _shot(browser, "pagina-invitacion-lista", tmp_path)
    assert sign_in(live.url, "alicia@dist.mx", NEW_PASSWORD).status_code == 200


def test_forgot_and_reset_pages(factory, smtp, live, browser, tmp_path):
    make_distributor(factory, email="ana@dist.mx", mobile="5511111111", password="secreto123")
    browser.get(f"{live.url}/cuenta/olvide")
    _shot(browser, "pagina-olvide", tmp_path)
    _fill(browser, login="ana@dist.mx")
    assert "Revise su correo" in _text(browser)
    mail = wait_for(lambda: smtp.recorder.to("ana@dist.mx"), what="the reset mail")[0]
    mail_file = tmp_path / "correo-restablecer.html"
    mail_file.write_text(html_of(mail), encoding="utf-8")
    browser.get(mail_file.as_uri())
    _shot(browser, "mail-restablecer", tmp_path)

    link = link_of(mail)
    browser.get(link)
    assert "Elija una contraseña nueva" in _text(browser) and "ana@dist.mx" in _text(browser)
    _shot(browser, "pagina-restablecer", tmp_path)
    _fill(browser, password=NEW_PASSWORD, password2=NEW_PASSWORD)
    assert "Su contraseña cambió" in _text(browser)
    assert sign_in(live.url, "ana@dist.mx", "secreto123").status_code == 401
    assert sign_in(live.url, "ana@dist.mx", NEW_PASSWORD).status_code == 200

    with db.transaction(factory) as s:
        before = s.scalar(select(Profile.password_hash).where(Profile.email == "ana@dist.mx"))
    browser.get(link)
    assert "Este enlace ya se usó" in _text(browser) and "Pedir un enlace nuevo" in _text(browser)
    _shot(browser, "pagina-restablecer-usado", tmp_path)
    with db.transaction(factory) as s:
        assert s.scalar(select(Profile.password_hash).where(Profile.email == "ana@dist.mx")) == before
