"""What the site agent says about its own troubles, in words a village site administrator can act on.

A failure of the agent (a sync that stopped, a delivery that waits) is a *problem*: a short key, kept
in state.json and the outboxes' delivery files beside the technical detail (English, for the county's
technicians and the log). The site view and the command line show the problem's sentence in the
reader's language (Chinese first) and the detail only as a 详情 line. The agent imports only itself
and protocol, so its texts live here rather than in the server's catalogues.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

# problem -> (中文, English): what happened and what to do, never how the network library calls it.
PROBLEMS: dict[str, tuple[str, str]] = {
    "unreachable": (
        "暂时连不上县里的服务器，会自动重试；本机节目照常播放。",
        "The county server cannot be reached for now; the agent keeps retrying, and the programmes on "
        "this PC play as usual.",
    ),
    "token": (
        "县里的服务器不再接受本站点的令牌（已被吊销或已过期）：请联系县里重新发放站点令牌。"
        "本机节目照常播放。",
        "The county server no longer accepts this site's token (revoked or expired): ask the county for "
        "a new site token. The programmes on this PC play as usual.",
    ),
    "server_error": (
        "县里的服务器出了故障，会自动重试；如果一直这样，请联系县里。本机节目照常播放。",
        "The county server has a fault; the agent keeps retrying. If this lasts, contact the county. "
        "The programmes on this PC play as usual.",
    ),
    "busy": (
        "县里的服务器正忙，稍后会自动重试。",
        "The county server is busy; the agent retries shortly.",
    ),
    "not_mediasrv": (
        "连到的不是县里的服务器：网络可能要求先登录（例如无线网的登录页面），或服务器地址变了。"
        "请检查网络，或联系县里。",
        "What answered is not the county server: the network may want a login first (a WiFi login "
        "page), or the server's address changed. Check the network, or contact the county.",
    ),
    "signature": (
        "收到的节目单签名不对，已拒收：可能在传输中被改动，或县里的服务器更换了密钥。请联系县里。",
        "The programme list's signature is wrong, so it was not accepted: it was altered on the way, or "
        "the county server's key changed. Contact the county.",
    ),
    "refused": (
        "县里的服务器拒绝了本站点的同步请求：请联系县里，并告诉他们下面的详情。",
        "The county server refused this site's sync: contact the county and give them the details below.",
    ),
    "disk_full": (
        "本机硬盘已满，节目下载不下来：请删除不用的文件腾出空间，或请县里调低本站点的存储配额。",
        "This PC's disk is full, so programmes cannot be downloaded: delete unneeded files, or ask the "
        "county to lower this site's storage quota.",
    ),
    "upgrade": (
        "本机的站点程序版本太旧，读不懂新的节目单：请升级 mediasrv-site。",
        "This PC's site program is too old to read the new programme list: upgrade mediasrv-site.",
    ),
    "stopped": (
        "同步中途停止了（关机、手动停止，或已过下载时段），下次同步会接着下载。",
        "The sync stopped part-way (shut down, stopped by hand, or the download window closed); the next "
        "sync continues where it left off.",
    ),
    "other": (
        "同步没有完成：请联系县里，并告诉他们下面的详情。",
        "The sync did not finish: contact the county and give them the details below.",
    ),
}

# The command line's own lines: key -> (中文, English), the same {params} in both.
LINES: dict[str, tuple[str, str]] = {
    "unreachable": (
        "暂时连不上县里的服务器（{server}），会自动重试；本机节目照常播放。请检查本机网络，一直连不上请"
        "联系县里。",
        "The county's server ({server}) cannot be reached for now; the sync is retried by itself and this "
        "site's programmes keep playing. Check this PC's network; if it lasts, call the county.",
    ),
    "init_unreachable": (
        "连不上服务器 {server}：请检查地址和本机网络。",
        "Cannot reach {server}: check the address and this PC's network.",
    ),
    "init_done": (
        "{dir} 已设置为 {server} 的站点 {code}（编号 {site_id}）。",
        "{dir} is set up for site {code} (id {site_id}) of {server}.",
    ),
    "init_next": (
        "下一步：先运行一次 {sync}，再把 {daemon} 设为开机自动运行的服务。",
        "Next: run {sync} once, then {daemon} as a service.",
    ),
    "beijing_time": ("{clock}（北京时间）", "{clock} Beijing time"),
    "details": ("详情：{detail}", "Details: {detail}"),
    # The site folder (agent.layout).
    "not_set_up": (
        "{dir} 还不是站点目录：请先运行 mediasrv-site init --server 服务器地址 --token 站点令牌 "
        "--dir {dir}。",
        "{dir} is not set up: run `mediasrv-site init --server URL --token T --dir {dir}`.",
    ),
    "config_damaged": (
        "{path} 已损坏，读不出来：请重新运行 mediasrv-site init --server 服务器地址 "
        "--token 站点令牌 --dir {dir}。",
        "{path} is damaged and cannot be read: run `mediasrv-site init --server URL --token T --dir {dir}` "
        "again.",
    ),
    "no_token": (
        "{path} 里没有站点令牌：请重新运行 mediasrv-site init。",
        "No token in {path}: run `mediasrv-site init` again.",
    ),
    "busy": (
        "{dir} 正由进程 {holder} 同步（可能是后台同步服务）：请等它完成，或先停止它。",
        "{dir} is being synced by process {holder} (a daemon?): wait for it, or stop it.",
    ),
    "no_server": (
        "{dir} 是从离线包建立的，还没有服务器地址：联网后请运行 mediasrv-site init --server 服务器地址 "
        "--token 站点令牌 --dir {dir}。",
        "{dir} has no server to sync with: run `mediasrv-site init --server URL --token T --dir {dir}`.",
    ),
    # init
    "init_token_refused": (
        "服务器 {server} 不接受这个令牌：请重新复制一遍（令牌只显示一次），或请县里用 "
        "mediasrv token create --site 站点编码 新建一个。",
        "{server} refused the token: copy it again (it is shown once), or create a new one with "
        "`mediasrv token create --site CODE`.",
    ),
    "init_not_mediasrv": (
        "{server} 的回答不对（HTTP {status}）：这个地址可能不是县里的 mediasrv 服务器，请检查 --server。",
        "{server} answered HTTP {status}: is this a mediasrv server? Check --server.",
    ),
    "init_not_site_token": (
        "这个令牌属于用户 {username}，不是站点的令牌：请县里用 mediasrv token create --site 站点编码 "
        "创建站点令牌。",
        "That token belongs to the user {username}, not to a site: create a site token with "
        "`mediasrv token create --site CODE`.",
    ),
    "init_no_key": (
        "服务器 {server} 没有给出节目单公钥（HTTP {status}）：请联系县里。",
        "{server} gave no manifest key (HTTP {status}): contact the county.",
    ),
    "init_other_site": (
        "{dir} 里已经是站点 {old_code}（编号 {old_id}），而这个令牌属于站点 {code}（编号 {site_id}）："
        "请换一个 --dir。",
        "{dir} already holds site {old_code} (id {old_id}); this token is for site {code} (id {site_id}): "
        "use another --dir.",
    ),
    # sync and its summary (parts joined by "sep")
    "interrupted": (
        "同步已中断；已下载的部分会保留，下次同步接着下载。",
        "Interrupted; what was downloaded is kept and the next sync resumes it.",
    ),
    "file_failed": ("  下载失败 {path}：{detail}", "  failed {path}: {detail}"),
    "sep": ("；", "; "),
    "sum_version": ("节目单版本 {version}", "version {version}"),
    "sum_version_target": (
        "节目单版本 {version}（服务器上是 {target}）",
        "version {version} (server: {target})",
    ),
    "sum_fetched": (
        "下载了 {files} 个文件（{downloaded}）",
        "{files} files fetched ({downloaded} downloaded)",
    ),
    "sum_fetched_resumed": (
        "下载了 {files} 个文件（新下载 {downloaded}，续传 {resumed}）",
        "{files} files fetched ({downloaded} downloaded, {resumed} resumed)",
    ),
    "sum_corrupt": ("替换了 {count} 个损坏的文件", "{count} damaged files replaced"),
    "sum_deleted": ("删除了 {count} 个文件", "{count} files deleted"),
    "sum_missing": ("还缺 {count} 个文件（{size}）", "{count} files ({size}) still missing"),
    "sum_deferred": ("要到下载时段才下载", "downloads wait for the download window"),
    "sum_report_queued": ("状态报告暂存（{count} 份待发）", "heartbeat queued ({count} waiting)"),
    "sum_report_sent": ("状态报告已发送", "heartbeat sent"),
    "sum_report_in_sync": ("状态报告已发送（与县里一致）", "heartbeat sent (in sync)"),
    "sum_viewing_queued": ("播放记录暂存（{count} 份待发）", "viewing evidence queued ({count} waiting)"),
    "sum_viewing_sent": ("播放记录已发送（{count} 份）", "viewing evidence sent ({count})"),
    "sum_records": ("学习记录：已发送 {sent} 条", "study records: {sent} sent"),
    "sum_records_refused": ("，退回 {count} 条（请在站点页面查看）", ", {count} refused (see the site view)"),
    "sum_records_waiting": ("，{count} 条待发", ", {count} waiting"),
    # daemon
    "daemon_start": (
        "站点 {code} 的后台同步已启动：每 {every} 秒检查一次 {server}。",
        "mediasrv-site daemon for site {code}, polling {server} every {every} s",
    ),
    "daemon_run_failed": (
        "这次同步出错了，{every} 秒后再试。",
        "the sync run failed; trying again in {every} s",
    ),
    "daemon_stopped": ("后台同步已停止。", "stopped"),
    # status
    "status_site": (
        "站点 {code}（编号 {site_id}），服务器 {server}",
        "site {code} (id {site_id}) of {server}",
    ),
    "status_no_server": ("还没有联网", "no server yet"),
    "status_no_manifest": ("还没有节目单：请运行 {command}", "no manifest applied yet: run {command}"),
    "status_manifest": (
        "节目单版本 {version}：已有 {present}/{files} 个文件，{present_size}/{size}",
        "manifest version {version}: {present}/{files} files, {present_size} of {size}",
    ),
    "status_window": ("下载时段 {window}，限速 {cap}", "download window {window}, bandwidth cap {cap}"),
    "status_any_time": ("不限", "any time"),
    "status_no_cap": ("不限", "none"),
    "status_queued": (
        "待发送：状态报告 {reports} 份，播放记录 {viewing} 份，学习记录 {records} 条（被退回 {refused} 条）",
        "queued reports: {reports}, viewing evidence: {viewing}, study records: {records} "
        "(refused: {refused})",
    ),
    "status_last": (
        "上次同步 {when}：{outcome}；下载 {files} 个文件，共 {size}，失败 {failed} 个",
        "last sync {when}: {outcome}; {files} files fetched, {size} downloaded, {failed} failed",
    ),
    "status_complete": ("已完成", "complete"),
    "status_incomplete": ("未完成", "incomplete"),
    # serve
    "serve_no_cache": (
        "{dir} 里没有站点缓存：请先运行 mediasrv-site init 或 mediasrv-site import，"
        "或用 --dir 指定站点目录。",
        "No site cache at {dir}: run `mediasrv-site init` or `mediasrv-site import` first, or pass --dir.",
    ),
    "serve_start": (
        "正在向局域网播放本站点的节目：机顶盒请打开 http://本机地址:{port}/playlist.m3u8，站点页面在 "
        "http://本机地址:{port}/。按 Ctrl-C 停止。",
        "Serving this site's programmes to the LAN: point set-top boxes at "
        "http://THIS-PC:{port}/playlist.m3u8; the site view is http://THIS-PC:{port}/. Ctrl-C stops it.",
    ),
    # import (agent.bundle)
    "bundle_missing": (
        "找不到离线包目录 {bundle}：请检查路径（例如 U 盘有没有插好）。",
        "No bundle folder at {bundle}: check the path (is the USB disk plugged in?).",
    ),
    "import_checking": ("正在检查", "checking"),
    "downloading": ("正在下载", "downloading"),
    "import_files": ("{files}/{all_files} 个文件", "{files}/{all_files} files"),
    "import_done": (
        "站点 {code}：已采用节目单版本 {version}（{before}）；共 {files} 个文件：复制 {copied} 个（{size}），"
        "原有 {kept} 个，删除旧文件 {removed} 个",
        "site {code}: manifest version {version} adopted ({before}); {files} files: {copied} copied "
        "({size}), {kept} already here, {removed} old files removed",
    ),
    "import_from_version": ("原为版本 {version}", "from version {version}"),
    "import_fresh": ("首次导入", "fresh"),
    "import_configured": (
        "已写入 {config}（用您给的公钥，还没有服务器地址）：站点联网后，请运行 mediasrv-site init "
        "--server 服务器地址 --token 站点令牌 --dir {dir}，改为联网同步。",
        "{config} written with the key you gave and no server: once the site has a line, run "
        "`mediasrv-site init --server URL --token T --dir {dir}` to sync over the network.",
    ),
    "bundle_key_differs": (
        "--public-key 和本站点记下的公钥（{pinned}）不一样，以记下的为准。如果服务器确实换了密钥，"
        "请重新运行 mediasrv-site init。",
        "--public-key differs from the key this site pinned ({pinned}); the pinned key is what counts. If "
        "the server's key really changed, run `mediasrv-site init` again.",
    ),
    "bundle_no_key": (
        "{dir} 从没设置过，没有记下节目单公钥：请用 --public-key 写上县里给您的公钥"
        "（mediasrv site-bundle export 会显示它）。不要直接复制 {copy}：它和离线包在同一个盘上。",
        "{dir} has never been set up, so it has no pinned manifest key: pass --public-key KEY with the key "
        "your county gave you (`mediasrv site-bundle export` prints it). Do not simply copy {copy}: it "
        "travelled on the same disk.",
    ),
    "bundle_incomplete": (
        "{bundle} 不是完整的离线包（缺少 {name}）：请县里用 mediasrv site-bundle export --site 站点编码 目录 "
        "重新导出。",
        "{bundle} is not a complete bundle ({name} is missing): write it again with "
        "`mediasrv site-bundle export --site CODE DIR`.",
    ),
    "bundle_other_key": (
        "离线包的签名和 {dir} 信任的公钥（{trusted}）对不上："
        "它是由另一个公钥（{exported_with}）的服务器导出的。"
        "如果那确实是县里的服务器，请重新运行 mediasrv-site init 记下新的公钥。没有做任何改动。",
        "The bundle's manifest.sig does not match its manifest.json under the key {dir} trusts "
        "({trusted}): it was exported by a server with another key ({exported_with}): if that is really "
        "your server, run `mediasrv-site init` again to pin its new key. Nothing was changed.",
    ),
    "bundle_altered": (
        "离线包的签名和 {dir} 信任的公钥（{trusted}）对不上：盘上的内容被改动或损坏了，请重新导出。"
        "没有做任何改动。",
        "The bundle's manifest.sig does not match its manifest.json under the key {dir} trusts "
        "({trusted}): the disk was altered or damaged: export it again. Nothing was changed.",
    ),
    "bundle_format": (
        "离线包的节目单不是本机程序认得的格式 {format}：本机的站点程序太旧或太新，请安装与县里服务器配套的 "
        "mediasrv。",
        "The bundle's manifest is signed but not format {format} in canonical form: this agent is too old "
        "or too new for the server that wrote it; install the matching mediasrv.",
    ),
    "bundle_other_site": (
        "这个离线包是站点 {code}（编号 {site_id}）的，而 {dir} 是站点 {own_code}（编号 {own_id}）："
        "请用 --site {own_code} 导出本站点的离线包。",
        "This bundle is for site {code} (id {site_id}), but {dir} is site {own_code} (id {own_id}): export "
        "one with --site {own_code}.",
    ),
    "bundle_older": (
        "本站点已经用上了节目单版本 {previous}，比离线包的版本 {version} 新，离线包过时了：请导出新的，"
        "或加上 --force 强制退回到它。",
        "This site already applied manifest version {previous}, newer than the bundle's {version}: the "
        "bundle is out of date. Export a fresh one, or pass --force to go back to it anyway.",
    ),
    "bundle_damaged": (
        "拒收 {bundle} 里的离线包：{bad} 个文件（共 {files} 个）和签名的节目单不符（盘被损坏或改动过，"
        "请重新导出）；没有做任何改动：",
        "Refused the bundle in {bundle}: {bad} of {files} files are not what its signed manifest lists (a "
        "damaged or altered disk: export it again); nothing was changed:",
    ),
    "bundle_file_missing": ("{path}：离线包里没有这个文件", "{path}: missing from the bundle"),
    "bundle_file_size": (
        "{path}：{got} 字节，节目单写的是 {size} 字节",
        "{path}: {got} bytes, the manifest says {size}",
    ),
    "bundle_file_hash": (
        "{path}：SHA-256 是 {got}…，节目单写的是 {want}…",
        "{path}: SHA-256 {got}…, the manifest says {want}…",
    ),
    "bundle_file_path": ("{path}：不是普通的相对路径", "{path}: not a plain relative path"),
    "bundle_more": ("……还有 {count} 个", "… and {count} more"),
}


# `mediasrv-site --help`: each command's, option's and argument's help, written in the code as its key
# (help="agent.help.sync.verify") and put in the operator's language by protocol.helptext.
HELP: dict[str, tuple[str, str]] = {
    "agent.help.root": (
        "mediasrv-site：让终端站点的节目缓存保持完整，并在局域网内播放",
        "mediasrv-site: keeps a terminal site's cache complete and serves it on the LAN",
    ),
    "agent.help.root.lang": (
        "zh 或 en：提示和帮助用哪种语言（不写时看环境变量 LANG / LC_ALL / LC_MESSAGES，都没有就用中文）",
        "zh or en: the language of messages and help (default: from LANG / LC_ALL / LC_MESSAGES, else zh)",
    ),
    "agent.help.root.debug": (
        "出错时显示详细的错误追踪（traceback），供县里的技术人员排查",
        "show the traceback of an error",
    ),
    "agent.help.common.dir": (
        "本站点的缓存目录",
        "the site's cache directory",
    ),
    "agent.help.common.attempts": (
        "每个请求失败后最多试几次（两次之间的等待从 1 秒起逐次加倍）",
        "tries per request before giving up (waits double from 1 s)",
    ),
    "agent.help.init": (
        "为一个站点建立缓存目录：向服务器确认令牌属于哪个站点，记下服务器的节目单公钥，保存令牌（只有本"
        "用户能读）。",
        "Set up a cache directory for one site: learn which site the token is for, pin the server's "
        "manifest key, keep the token (mode 0600).",
    ),
    "agent.help.init.server": (
        "县里服务器的地址，例如 https://edu.example.cn",
        "the mediasrv URL, e.g. https://edu.example.cn",
    ),
    "agent.help.init.token": (
        "本站点的 API 令牌（县里发放）",
        "the site's API token",
    ),
    "agent.help.init.interval": (
        "daemon 两次检查之间隔多少秒",
        "seconds between the daemon's polls",
    ),
    "agent.help.sync": (
        "同步一次：取节目单，下载缺少的文件（断点续传），删除节目单里已经没有的文件，并向县里上报。",
        "Sync once: fetch the manifest, download what is missing (resuming), delete what left it, report.",
    ),
    "agent.help.sync.verify": (
        "校验所有缓存文件（SHA-256），不只是新下载的",
        "hash every cached file, not only new ones",
    ),
    "agent.help.sync.respect_window": (
        "只在本站点的下载时段内下载",
        "download only inside the site's download window",
    ),
    "agent.help.daemon": (
        "一直定时检查和同步，直到停止（SIGTERM 或 Ctrl-C）：只在下载时段内下载；时段外仍然检查节目单、"
        "向县里上报。每次运行记一行日志。",
        "Poll and sync until stopped (SIGTERM or Ctrl-C): downloads only inside the download "
        "window; outside it the manifest is still checked and heartbeats still sent. Logs one line "
        "per run.",
    ),
    "agent.help.daemon.interval": (
        "两次检查之间隔多少秒（不写时用 init 设定的，默认 300）",
        "seconds between polls (default: from init, 300)",
    ),
    "agent.help.status": (
        "本站点的情况：已用上的节目单、文件、等待上报的记录、上次同步。",
        "What this site holds: the applied manifest, its files, queued reports, the last sync.",
    ),
    "agent.help.status.json": (
        "以 JSON 格式输出",
        "print the status as JSON",
    ),
    "agent.help.serve": (
        "在局域网内播放缓存的节目：机顶盒打开 http://本机地址:端口/playlist.m3u8。",
        "Serve the cached programmes to the LAN: point set-top boxes at http://THIS-HOST:PORT/playlist.m3u8.",
    ),
    "agent.help.serve.host": (
        "监听的地址；0.0.0.0 即整个局域网",
        "address to listen on; 0.0.0.0: the whole LAN",
    ),
    "agent.help.serve.port": (
        "监听的端口",
        "the port to listen on",
    ),
    "agent.help.serve.name": (
        "机顶盒访问本机时还可能用的名称（例如村里路由器给它起的名字），可以写多次。IP 地址、localhost "
        "和本机自己的名称总是可以用。",
        "a name the boxes use for this PC besides its own (e.g. what the village router calls it); "
        "repeatable. Addresses, localhost and the PC's own name always work.",
    ),
    "agent.help.import": (
        "校验离线包（签名、每个文件的大小和 SHA-256）并启用它。\n\n全部校验通过才会改动。离线包由县里用"
        " mediasrv site-bundle export 导出。",
        "Verify an offline bundle (signature, every file's size and SHA-256) and adopt it.\n\nNothing "
        "changes unless everything checks out. Written by `mediasrv site-bundle export`.",
    ),
    "agent.help.import.bundle": (
        "离线包所在的目录，例如 /media/usb/site-12",
        "the bundle, e.g. /media/usb/site-12",
    ),
    "agent.help.import.public_key": (
        "县里服务器的节目单公钥：本站点从没用 init 设置过时要写",
        "the server's manifest key, for a site never set up with `init`",
    ),
    "agent.help.import.force": (
        "即使本站点已有更新的版本，也启用这个离线包",
        "adopt the bundle even if this site has a newer version",
    ),
}


# The command line's language: the root command's --lang, else the locale (agent.cli sets it).
OPERATOR: list[Lang] = ["zh"]


def line(key: str, lang: Lang, /, **params: object) -> str:
    """One of the command line's lines in `lang`."""
    return LINES[key][0 if lang == "zh" else 1].format(**params)


def help_text(key: str) -> str | None:
    """A help key's text in the operator's language; None for what is not a key (typer's built-ins)."""
    pair = HELP.get(key)
    return None if pair is None else pair[0 if OPERATOR[0] == "zh" else 1]


def said(key: str, /, **params: object) -> str:
    """One of the command line's lines in the operator's language."""
    return line(key, OPERATOR[0], **params)


def problem_of(exc: BaseException) -> str:
    """The problem an exception of the agent stands for (its class's `problem`), else "other"."""
    problem = getattr(exc, "problem", None)
    return problem if isinstance(problem, str) and problem in PROBLEMS else "other"


def say(problem: str | None, lang: Lang = "zh") -> str:
    """The sentence of a problem in `lang`; an unknown (or missing) one reads as "other"."""
    pair = PROBLEMS.get(problem or "other", PROBLEMS["other"])
    return pair[0 if lang == "zh" else 1]


def explain(exc: BaseException, lang: Lang = "zh") -> str:
    """What to tell the administrator about `exc`: its problem's sentence (the detail is str(exc))."""
    return say(problem_of(exc), lang)


def problem_of_status(status: int) -> str:
    """The problem an HTTP status of the server stands for, when it says "not now" or "not you"."""
    if status in (401, 403):
        return "token"
    if status == 429:
        return "busy"
    if status in (408, 425, 502, 503, 504):
        return "unreachable"  # the server, or the way to it, is down for now
    if status >= 500:
        return "server_error"
    return "refused"
