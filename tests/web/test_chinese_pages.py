"""The pages speak Chinese: what the server refuses reaches the page in Chinese (its rendered `message`),
no English sentence shows in a Chinese session, the header names people by their display names, and a
producer finds their uploads and their states on 我的上传."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mediasrv.agent import page as site_page
from mediasrv.agent import words as agent_words
from mediasrv.kit import i18n
from mediasrv.kit.caller import Role
from mediasrv.web import i18n as web_i18n
from tests.e2e.stack import Stack
from tests.mediafactory import make_media
from tests.web.conftest import PASSWORD, login, screenshot

# Three English words in a row (letters, apostrophes; spaces or commas between): a sentence, or the
# start of one. Codes, paths and commands are taken out first (ALLOWED).
ENGLISH = re.compile(r"[A-Za-z][A-Za-z']+(?:[ ,]+[A-Za-z][A-Za-z']+){2,}")
ALLOWED = re.compile(
    r"https?://\S+"  # addresses
    r"|/[\w./{}\-?=&%]+"  # paths of the API (POST /api/v1/tokens)
    r"|mediasrv(?:-site)?(?: +[-\w./{}<>=]+)*"  # commands to type, as typed
    r"|Authorization: Bearer"  # a header, as sent
)


def english_in(text: str) -> list[str]:
    return ENGLISH.findall(ALLOWED.sub(" ", text))


def test_the_pattern_finds_english_and_lets_codes_commands_and_addresses_through() -> None:
    assert english_in("转码失败：The file could not be read") == ["The file could not be read"]
    assert english_in("Value error, ends_on is before starts_on.")
    assert not english_in("请发送“Authorization: Bearer <令牌>”，或运行 mediasrv-site sync --dir /srv/site。")
    assert not english_in("人员账号只能是编导或管理员；站点使用站点令牌（POST /api/v1/tokens）。")
    assert not english_in("支持 MP4、MOV、MKV、TS、AVI、MP3 等，见 https://edu.example.cn/help page")


def test_every_chinese_text_of_the_server_is_free_of_english_sentences() -> None:
    """Every message the server can send, as a Chinese caller reads it (parameters filled with facts)."""
    found = {}
    for key, (zh, _en) in i18n.MESSAGES.items():
        shown = i18n.render(key, "zh", dict.fromkeys(i18n.placeholders(zh), "7"))
        if english := english_in(shown):
            found[key] = english
    # The pages' own words, and what the site agent says (its view is Chinese too).
    texts = {f"web {key}": zh for key, (zh, _en) in web_i18n.WORDS.items()}
    texts |= {f"agent {key}": zh for key, zh in site_page.WORDS["zh"].items()}
    texts |= {f"agent problem {key}": zh for key, (zh, _en) in agent_words.PROBLEMS.items()}
    found |= {key: english for key, zh in texts.items() if (english := english_in(zh))}
    assert found == {}, found


e2e = pytest.mark.e2e


def visible_english(page: Page) -> list[str]:
    return english_in(page.locator("body").inner_text())


@e2e
def test_a_locked_login_says_so_in_chinese(page: Page, web: Stack) -> None:
    web.person("zhao.locked", Role.PRODUCER, PASSWORD, display_name="赵编导")
    page.goto("/login")
    page.get_by_label("用户名").fill("zhao.locked")
    for _ in range(6):  # five wrong passwords lock the account; the sixth try is refused as such
        page.get_by_label("密码").fill("not-the-password")
        # Each try waits for its answer: the alert reads the same after every wrong password, so
        # seeing it says nothing about whether this try was answered yet.
        with page.expect_response(lambda r: r.url.endswith("/auth/login")):
            page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("登录失败次数过多")
    expect(page.get_by_role("alert")).to_contain_text("分钟后再试")
    assert visible_english(page) == []
    screenshot(page, "login-locked")


@e2e
def test_a_short_username_is_refused_in_chinese_and_the_header_shows_the_display_name(
    page: Page, web: Stack
) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/accounts")
    expect(page.locator("header .who b")).to_have_text("李管理员")  # not li.admin
    form = page.locator("#person-form")
    form.get_by_label("用户名").fill("w")
    form.get_by_label("姓名").fill("王")
    form.get_by_label("角色").select_option(label="管理员")
    form.get_by_label("初始密码").fill(PASSWORD)
    form.get_by_role("button", name="创建账号").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("用户名")
    assert re.search(r"[\u4e00-\u9fff]", alert.inner_text())
    assert visible_english(page) == [], alert.inner_text()


@e2e
def test_a_study_list_ending_before_it_starts_is_refused_in_chinese(page: Page, web: Stack) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/study-lists")
    page.get_by_role("button", name="新建清单").click()
    page.get_by_label("清单名称").fill("倒过来的清单")
    page.get_by_label("结束日期").fill("2000-01-01")
    page.get_by_label("应学课时").fill("4")
    page.get_by_role("button", name="创建清单").click()
    expect(page.get_by_role("alert")).to_contain_text("结束日期不能早于开始日期")
    assert visible_english(page) == []


@e2e
def test_a_producer_finds_their_upload_and_its_state_on_my_uploads(
    page: Page, web: Stack, tmp_path: Path
) -> None:
    film = make_media(tmp_path / "村史讲堂.mp4", seconds=2, width=160, height=90)
    asset = web.upload(film)  # the stack's producer token: zhang.producer's department
    login(page, "zhang.producer")
    expect(page.locator("header .who b")).to_have_text("张编导")
    page.get_by_role("link", name="我的上传").click()
    expect(page).to_have_url(f"{web.url}/ui/uploads")
    row = page.locator(f'#uploads-body tr[data-id="{asset["id"]}"]')
    expect(row).to_contain_text("村史讲堂.mp4")
    expect(row.locator(".state")).to_have_text(re.compile("排队等待转码|转码中|就绪"))
    web.wait(asset["id"], until=("ready",))
    page.reload()
    expect(row.locator(".state")).to_have_text("就绪")
    assert visible_english(page) == []
    screenshot(page, "my-uploads")

    # On to the programme form, with the film already there.
    row.get_by_role("link", name="填写节目信息").click()
    expect(page).to_have_url(f"{web.url}/ui/upload?asset={asset['id']}")
    expect(page.locator("#transcode-status")).to_have_text("就绪")
    expect(page.get_by_label("节目标题")).to_have_value(asset["title"])


@e2e
def test_an_administrator_may_open_my_uploads_and_a_visitor_is_sent_to_log_in(page: Page, web: Stack) -> None:
    page.goto("/ui/uploads")
    expect(page).to_have_url(f"{web.url}/login?next=/ui/uploads")
    login(page, "li.admin")
    page.goto("/ui/uploads")
    expect(page.get_by_role("heading", name="我的上传")).to_be_visible()


# --- one refusal per page, through the page's own controls: the server's message, in Chinese ---------


def flash_says(page: Page, text: str) -> None:
    """The page's message box shows the server's refusal, and nothing on the page is English."""
    expect(page.locator("#flash")).to_contain_text(text)
    assert visible_english(page) == [], page.locator("#flash").inner_text()


@e2e
def test_an_empty_file_and_a_text_file_named_mp4_are_refused_in_chinese(page: Page, web: Stack) -> None:
    login(page, "zhang.producer")
    page.goto("/ui/upload")
    picker = page.get_by_label("选择影片或音频文件")
    picker.set_input_files(files=[{"name": "空录像.mp4", "mimeType": "video/mp4", "buffer": b""}])
    flash_says(page, "“空录像.mp4”是空文件（0 字节）")  # refused when the upload starts
    notes = "第一课：红船精神\n第二课：长征精神\n".encode()
    picker.set_input_files(files=[{"name": "讲稿.mp4", "mimeType": "video/mp4", "buffer": notes * 20}])
    flash_says(page, "“讲稿.mp4”不是影片、音频或 PDF（看起来是纯文本）")  # refused once every byte is in


@e2e
def test_a_taken_site_code_and_a_bad_csv_row_are_refused_in_chinese_on_sites(page: Page, web: Stack) -> None:
    site = {"code": "zh-taken", "name": "东庄村党员活动室", "region": "河北省/邢台市/东庄村"}
    web.api("POST", "/sites", json=site)
    login(page, "li.admin")
    page.goto("/ui/admin/sites")
    page.get_by_label("站点编码").fill("zh-taken")
    page.get_by_label("站点名称").fill("另一个活动室")
    page.get_by_label("所属地区").fill("河北省/邢台市/西庄村")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.locator("#register-error")).to_contain_text("已经有编码为“zh-taken”的站点")
    assert visible_english(page) == []

    csv = "站点编码,站点名称,所属地区,下载时段\r\nzh-bad,,河北省/邢台市/南庄村,25:00-05:00\r\n"
    page.get_by_label("选择 CSV 文件").set_input_files(
        files=[{"name": "站点.csv", "mimeType": "text/csv", "buffer": csv.encode("gb18030")}]
    )
    page.get_by_role("button", name="导入", exact=True).click()
    bad = page.locator('#import-errors tr[data-line="2"]')
    expect(bad).to_contain_text("“站点名称”列：必须填写，不能为空")
    expect(bad).to_contain_text("下载时段“25:00-05:00”的格式不对")
    assert visible_english(page) == []


@pytest.fixture(scope="module")
def published(web: Stack, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A published programme (its film ready), for the pages that act on one."""
    film = make_media(tmp_path_factory.mktemp("films") / "红船精神.mp4", seconds=2.5, width=160, height=90)
    asset = web.upload(film)
    assert web.wait(asset["id"])["status"] == "ready", web.log_tail("worker")
    return web.publish(asset["id"], "红船精神", "party-history")


@e2e
def test_withdrawing_what_another_administrator_withdrew_is_refused_in_chinese(
    page: Page, web: Stack, published: str
) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/programmes?status=published")
    withdraw = page.locator(f'tr[data-id="{published}"]').get_by_role("button", name="撤下：红船精神")
    expect(withdraw).to_be_visible()
    web.api("POST", f"/programmes/{published}/withdraw", json={"reason": "内容需要更新"})  # from another desk
    withdraw.click()
    dialog = page.get_by_role("dialog", name="撤下节目？")
    dialog.get_by_label("撤下原因").fill("内容过时")
    dialog.get_by_role("button", name="撤下", exact=True).click()
    flash_says(page, "只有已发布的节目才能撤下；这个节目现在是“已撤下”。")


@e2e
def test_publishing_a_programme_without_media_is_refused_in_chinese_on_its_page(
    page: Page, web: Stack
) -> None:
    draft = {"title": "待上传的讲座", "category": "agri-tech"}  # no film yet
    made = web.api("POST", "/programmes", web.headers, json=draft)
    login(page, "li.admin")
    page.goto(f"/ui/programmes/{made['id']}")
    page.locator("#publish").click()
    flash_says(page, "发布前请先给节目添加影片或音频")


@e2e
def test_an_unknown_category_in_the_address_is_refused_in_chinese_on_catalog(page: Page, web: Stack) -> None:
    login(page, "zhang.producer")
    page.goto("/ui/catalog?category=没有这一类")
    expect(page.locator("#results .error-box")).to_contain_text("没有“没有这一类”这个类别")
    assert visible_english(page) == []


@e2e
def test_an_unknown_category_in_the_address_is_refused_in_chinese_on_feedback(page: Page, web: Stack) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/feedback?category=没有这一类")
    flash_says(page, "没有“没有这一类”这个类别")


@e2e
def test_a_region_too_long_in_the_address_is_refused_in_chinese_on_compliance(page: Page, web: Stack) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/compliance?region=" + "村" * 501)
    flash_says(page, "地区：最多 500 个字")


@e2e
def test_an_unknown_action_in_the_address_is_refused_in_chinese_on_audit(page: Page, web: Stack) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/audit?action=no.such.action")
    flash_says(page, "操作：只能是 'asset.upload'")  # the field by its Chinese name, not "action"


@e2e
def test_a_token_without_a_name_is_refused_in_chinese_on_accounts(page: Page, web: Stack) -> None:
    login(page, "li.admin")
    page.goto("/ui/admin/accounts")
    form = page.locator("#token-form")
    form.get_by_role("button", name="创建令牌").click()
    flash_says(page, "名称：至少要有 1 个字")
