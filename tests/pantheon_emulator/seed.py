"""Seeding: sites from a recipe (code, database rows, files), deterministic from a seed;
the built-in ``demo`` fleet; quick bulk sites for paging tests.

Recipe (JSON)::

    {"seed": 1,
     "orgs": [{"name": "Agency", "machine_name": "agency", "role": "admin"}],
     "sites": [{
        "name": "d7-small", "label": "D7 small", "framework": "drupal",   # drupal | drupal8 | wordpress
        "upstream": "drupal7", "org": "agency", "tags": ["x"], "php_version": "74", "lazy": false,
        "frozen": false, "plan": "Basic",
        "envs": ["dev", "test", "live"] | {"dev": {...env spec...}, "mdev1": {}},
        # defaults for every env (an env spec overrides them):
        "code": {"files": {"sites/all/modules/custom/x/x.module": "<?php\\n"}},
        "db": {"nodes": 10, "site_name": "My site", "padding": "5MB",     # posts for WordPress
               "big_row": "3MB"},                          # one row of that size (a multi-MB dump line)
        "files": {"count": 20, "size": [512, 4096] | 2048 | "2KB", "compressible": true,
                  "unicode": true, "depth": 2, "folders": 3, "empty_dirs": 1,
                  "big": [{"name": "media/a.bin", "size": "100MB", "compressible": false}]},
        "initialized": true,
        "backups": [{"env": "live", "elements": ["code", "database", "files"]},     # real do_export
                    {"env": "live", "element": "files", "sparse_size": "1024MB"}]  # sparse archive
     }]}
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import uuid
from pathlib import Path

from pantheon_emulator import content
from pantheon_emulator.store import (ENV_NAME_RE, FRAMEWORKS, MIB, SITE_NAME_RE, StoreError, branch_for_env, new_id,
                                     seeded_random)

SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
UNITS = {"": 1, "b": 1, "k": 1024, "m": MIB, "g": 1024 * MIB, "t": 1024 * 1024 * MIB}
COMMIT_DATE = "2024-01-15T12:00:00+00:00"
LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et "
         "dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea "
         "commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur").split()
UNICODE_STEMS = ["café", "naïve résumé", "日本語", "Ünïcødé ñame", "emoji-✓", "straße", "файл", "a b c"]


def parse_size(value, what="size"):
    """Bytes from 123, "2KB", "300MB", "1.5GiB"."""
    if isinstance(value, bool):
        raise StoreError(f"{what}: not a size: {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise StoreError(f"{what}: negative size {value!r}")
        return int(value)
    m = SIZE_RE.match(str(value))
    if not m:
        raise StoreError(f"{what}: not a size: {value!r} (use bytes or e.g. '300MB')")
    unit = (m.group(2) or "").lower().rstrip("b").rstrip("i")
    return int(float(m.group(1)) * UNITS[unit])


# ====================================================================== code
def code_files(framework, site_name, rng):
    """{relative path: text} of a realistic minimal code base for a framework."""
    salt = rng.getrandbits(256).to_bytes(32, "big").hex()
    gitignore_files = content.files_path(framework)
    if framework == "wordpress":
        keys = "\n".join(f"define('{k}', '{rng.getrandbits(192):048x}');" for k in (
            "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT", "SECURE_AUTH_SALT",
            "LOGGED_IN_SALT", "NONCE_SALT"))
        return {
            ".gitignore": f"/{gitignore_files}/\n/wp-content/cache/\n",
            "index.php": "<?php\n/** Front to the WordPress application. */\ndefine('WP_USE_THEMES', true);\n"
                         "require __DIR__ . '/wp-blog-header.php';\n",
            "wp-blog-header.php": "<?php\nrequire_once __DIR__ . '/wp-load.php';\nwp();\n"
                                  "require_once ABSPATH . WPINC . '/template-loader.php';\n",
            "wp-load.php": "<?php\ndefine('ABSPATH', __DIR__ . '/');\nrequire_once ABSPATH . 'wp-config.php';\n",
            "wp-config.php": "<?php\n// Pantheon: database credentials come from the environment.\n"
                             "if (file_exists(__DIR__ . '/wp-config-pantheon.php') && isset($_ENV['PANTHEON_ENVIRONMENT'])) {\n"
                             "  require_once __DIR__ . '/wp-config-pantheon.php';\n}\n"
                             f"{keys}\n$table_prefix = 'wp_';\n"
                             "if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }\n"
                             "require_once ABSPATH . 'wp-settings.php';\n",
            "wp-config-pantheon.php": "<?php\ndefine('DB_NAME', $_ENV['DB_NAME']);\ndefine('DB_USER', $_ENV['DB_USER']);\n"
                                      "define('DB_PASSWORD', $_ENV['DB_PASSWORD']);\n"
                                      "define('DB_HOST', $_ENV['DB_HOST'] . ':' . $_ENV['DB_PORT']);\n",
            "wp-settings.php": "<?php\ndefine('WPINC', 'wp-includes');\nrequire ABSPATH . WPINC . '/version.php';\n",
            "wp-includes/version.php": "<?php\n$wp_version = '6.6.2';\n$wp_db_version = 57155;\n",
            "wp-includes/template-loader.php": "<?php\n// Loads the theme template.\n",
            "wp-admin/index.php": "<?php\nrequire_once dirname(__DIR__) . '/wp-load.php';\n",
            "wp-content/index.php": "<?php\n// Silence is golden.\n",
            "wp-content/themes/twentytwentyfour/style.css": "/*\nTheme Name: Twenty Twenty-Four\nVersion: 1.2\n*/\n",
            "wp-content/plugins/hello.php": "<?php\n/* Plugin Name: Hello Dolly */\n",
            "license.txt": "WordPress - Web publishing software\n",
            "pantheon.yml": "api_version: 1\nphp_version: 8.3\n",
        }
    common_settings = ("<?php\n/**\n * Pantheon settings: database credentials are read from PRESSFLOW_SETTINGS.\n */\n"
                       "if (isset($_ENV['PANTHEON_ENVIRONMENT'])) {\n"
                       "  $ps = json_decode($_SERVER['PRESSFLOW_SETTINGS'], TRUE);\n"
                       "  $databases = $ps['databases'];\n}\n")
    if framework == "drupal8":
        return {
            ".gitignore": f"/{gitignore_files}/\n/vendor/\n",
            "index.php": "<?php\nuse Drupal\\Core\\DrupalKernel;\nuse Symfony\\Component\\HttpFoundation\\Request;\n"
                         "$autoloader = require_once 'autoload.php';\n"
                         "$kernel = new DrupalKernel('prod', $autoloader);\n$request = Request::createFromGlobals();\n"
                         "$response = $kernel->handle($request);\n$response->send();\n",
            "autoload.php": "<?php\nreturn require __DIR__ . '/vendor/autoload.php';\n",
            "composer.json": json.dumps({"name": f"pantheon-upstreams/{site_name}", "type": "project",
                                         "require": {"drupal/core-recommended": "^10.3", "drush/drush": "^12"}},
                                        indent=4) + "\n",
            "core/lib/Drupal.php": "<?php\nnamespace Drupal;\nclass Drupal {\n  const VERSION = '10.3.6';\n}\n",
            "core/modules/system/system.info.yml": "name: System\ntype: module\ncore_version_requirement: ^10\n",
            "sites/default/settings.php": (common_settings + f"$settings['hash_salt'] = '{salt}';\n"
                                           "$settings['config_sync_directory'] = 'sites/default/files/config';\n"),
            "sites/default/default.settings.php": "<?php\n// Default Drupal settings.\n",
            "modules/README.txt": "Place contributed and custom modules here.\n",
            "themes/README.txt": "Place contributed and custom themes here.\n",
            "robots.txt": "User-agent: *\nDisallow: /admin/\n",
            "pantheon.upstream.yml": "api_version: 1\nbuild_step: true\nphp_version: 8.3\n",
        }
    return {
        ".gitignore": f"/{gitignore_files}/\n",
        "index.php": "<?php\ndefine('DRUPAL_ROOT', getcwd());\nrequire_once DRUPAL_ROOT . '/includes/bootstrap.inc';\n"
                     "drupal_bootstrap(DRUPAL_BOOTSTRAP_FULL);\nmenu_execute_active_handler();\n",
        "cron.php": "<?php\ndefine('DRUPAL_ROOT', getcwd());\ninclude_once DRUPAL_ROOT . '/includes/bootstrap.inc';\n",
        "update.php": "<?php\n// Database update script.\n",
        "install.php": "<?php\ndefine('MAINTENANCE_MODE', 'install');\n",
        "includes/bootstrap.inc": "<?php\ndefine('VERSION', '7.101');\ndefine('DRUPAL_CORE_COMPATIBILITY', '7.x');\n",
        "modules/system/system.module": "<?php\n/** @file Configuration system that lets administrators modify the "
                                        "workings of the site. */\n",
        "modules/node/node.module": "<?php\n/** @file The core module that allows content to be submitted. */\n",
        "sites/default/settings.php": common_settings + f"$drupal_hash_salt = '{salt}';\n",
        "sites/default/default.settings.php": "<?php\n// Default Drupal settings.\n",
        "sites/all/modules/README.txt": "Place downloaded and custom modules that extend your site here.\n",
        "sites/all/themes/README.txt": "Place downloaded and custom themes here.\n",
        "CHANGELOG.txt": "Drupal 7.101, 2024-06-05\n-----------------------\n- Fixed security issues.\n",
        "robots.txt": "User-agent: *\nDisallow: /includes/\n",
        "pantheon.upstream.yml": "api_version: 1\nphp_version: 7.4\ndrush_version: 8\n",
    }


def write_code_tree(dest, framework, site_name, extra=None, seed=0):
    """Write the framework code (+ ``extra`` {path: text}) into ``dest``."""
    rng = seeded_random("code", seed, site_name)
    files = code_files(framework, site_name, rng)
    files.update(extra or {})
    for rel, text in files.items():
        target = Path(dest) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode() if isinstance(text, str) else bytes(text))
    return sorted(files)


# ====================================================================== database
def _sentence(rng, words):
    return " ".join(rng.choice(LOREM) for _i in range(words)).capitalize()


# Core tables as the frameworks create them on MySQL/MariaDB (column types from Drupal 7's
# system/node/user/field schema, Drupal 8+'s entity storage, WordPress's wp-admin/includes/schema.php),
# trimmed to the columns a site needs to render and that tools touch.
_ENGINE = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
_D7_SCHEMA = [
    "CREATE TABLE `variable` (`name` varchar(128) NOT NULL DEFAULT '', `value` longblob NOT NULL, "
    "PRIMARY KEY (`name`))",
    "CREATE TABLE `node` (`nid` int(10) unsigned NOT NULL AUTO_INCREMENT, `vid` int(10) unsigned DEFAULT NULL, "
    "`type` varchar(32) NOT NULL DEFAULT '', `language` varchar(12) NOT NULL DEFAULT '', "
    "`title` varchar(255) NOT NULL DEFAULT '', `uid` int(11) NOT NULL DEFAULT 0, `status` int(11) NOT NULL DEFAULT 1, "
    "`created` int(11) NOT NULL DEFAULT 0, `changed` int(11) NOT NULL DEFAULT 0, `comment` int(11) NOT NULL DEFAULT 0, "
    "`promote` int(11) NOT NULL DEFAULT 0, `sticky` int(11) NOT NULL DEFAULT 0, "
    "`tnid` int(10) unsigned NOT NULL DEFAULT 0, `translate` int(11) NOT NULL DEFAULT 0, PRIMARY KEY (`nid`), "
    "UNIQUE KEY `vid` (`vid`), KEY `node_type` (`type`(4)), KEY `node_status_type` (`status`,`type`,`nid`))",
    "CREATE TABLE `field_data_body` (`entity_type` varchar(128) NOT NULL DEFAULT '', "
    "`bundle` varchar(128) NOT NULL DEFAULT '', `deleted` tinyint(4) NOT NULL DEFAULT 0, "
    "`entity_id` int(10) unsigned NOT NULL, `revision_id` int(10) unsigned DEFAULT NULL, "
    "`language` varchar(32) NOT NULL DEFAULT '', `delta` int(10) unsigned NOT NULL, `body_value` longtext, "
    "`body_summary` longtext, `body_format` varchar(255) DEFAULT NULL, "
    "PRIMARY KEY (`entity_type`,`entity_id`,`deleted`,`delta`,`language`))",
    "CREATE TABLE `users` (`uid` int(10) unsigned NOT NULL DEFAULT 0, `name` varchar(60) NOT NULL DEFAULT '', "
    "`pass` varchar(128) NOT NULL DEFAULT '', `mail` varchar(254) DEFAULT '', `theme` varchar(255) NOT NULL DEFAULT '', "
    "`signature` varchar(255) NOT NULL DEFAULT '', `signature_format` varchar(255) DEFAULT NULL, "
    "`created` int(11) NOT NULL DEFAULT 0, `access` int(11) NOT NULL DEFAULT 0, `login` int(11) NOT NULL DEFAULT 0, "
    "`status` tinyint(4) NOT NULL DEFAULT 0, `timezone` varchar(32) DEFAULT NULL, "
    "`language` varchar(12) NOT NULL DEFAULT '', `picture` int(11) NOT NULL DEFAULT 0, `init` varchar(254) DEFAULT '', "
    "`data` longblob, PRIMARY KEY (`uid`), UNIQUE KEY `name` (`name`))",
    "CREATE TABLE `system` (`filename` varchar(255) NOT NULL DEFAULT '', `name` varchar(255) NOT NULL DEFAULT '', "
    "`type` varchar(12) NOT NULL DEFAULT '', `owner` varchar(255) NOT NULL DEFAULT '', "
    "`status` int(11) NOT NULL DEFAULT 0, `bootstrap` int(11) NOT NULL DEFAULT 0, "
    "`schema_version` smallint(6) NOT NULL DEFAULT -1, `weight` int(11) NOT NULL DEFAULT 0, `info` blob, "
    "PRIMARY KEY (`filename`))",
] + [
    f"CREATE TABLE `{name}` (`cid` varchar(255) NOT NULL DEFAULT '', `data` longblob, "
    "`expire` int(11) NOT NULL DEFAULT 0, `created` int(11) NOT NULL DEFAULT 0, "
    "`serialized` smallint(6) NOT NULL DEFAULT 0, PRIMARY KEY (`cid`), KEY `expire` (`expire`))"
    for name in ("cache", "cache_bootstrap", "cache_page")
]
_D8_SCHEMA = [
    "CREATE TABLE `config` (`collection` varchar(255) NOT NULL DEFAULT '', `name` varchar(255) NOT NULL DEFAULT '', "
    "`data` longblob DEFAULT NULL, PRIMARY KEY (`collection`,`name`))",
    "CREATE TABLE `key_value` (`collection` varchar(128) NOT NULL DEFAULT '', `name` varchar(128) NOT NULL DEFAULT '', "
    "`value` longblob NOT NULL, PRIMARY KEY (`collection`,`name`))",
    "CREATE TABLE `node` (`nid` int(10) unsigned NOT NULL AUTO_INCREMENT, `vid` int(10) unsigned DEFAULT NULL, "
    "`type` varchar(32) CHARACTER SET ascii NOT NULL, `uuid` varchar(128) CHARACTER SET ascii NOT NULL, "
    "`langcode` varchar(12) CHARACTER SET ascii NOT NULL, PRIMARY KEY (`nid`), UNIQUE KEY `node_field__uuid__value` "
    "(`uuid`), UNIQUE KEY `node__vid` (`vid`))",
    "CREATE TABLE `node_field_data` (`nid` int(10) unsigned NOT NULL, `vid` int(10) unsigned NOT NULL, "
    "`type` varchar(32) CHARACTER SET ascii NOT NULL, `langcode` varchar(12) CHARACTER SET ascii NOT NULL, "
    "`status` tinyint(4) NOT NULL, `uid` int(10) unsigned NOT NULL, `title` varchar(255) NOT NULL, "
    "`created` int(11) NOT NULL, `changed` int(11) DEFAULT NULL, `promote` tinyint(4) DEFAULT NULL, "
    "`sticky` tinyint(4) DEFAULT NULL, `default_langcode` tinyint(4) NOT NULL, PRIMARY KEY (`nid`,`langcode`), "
    "KEY `node__status_type` (`status`,`type`,`nid`))",
    "CREATE TABLE `node__body` (`bundle` varchar(128) CHARACTER SET ascii NOT NULL DEFAULT '', "
    "`deleted` tinyint(4) NOT NULL DEFAULT 0, `entity_id` int(10) unsigned NOT NULL, "
    "`revision_id` int(10) unsigned NOT NULL, `langcode` varchar(32) CHARACTER SET ascii NOT NULL DEFAULT '', "
    "`delta` int(10) unsigned NOT NULL, `body_value` longtext NOT NULL, `body_summary` longtext DEFAULT NULL, "
    "`body_format` varchar(255) DEFAULT NULL, PRIMARY KEY (`entity_id`,`deleted`,`delta`,`langcode`))",
    "CREATE TABLE `users` (`uid` int(10) unsigned NOT NULL, `uuid` varchar(128) CHARACTER SET ascii NOT NULL, "
    "`langcode` varchar(12) CHARACTER SET ascii NOT NULL, PRIMARY KEY (`uid`), UNIQUE KEY `user_field__uuid__value` "
    "(`uuid`))",
    "CREATE TABLE `users_field_data` (`uid` int(10) unsigned NOT NULL, `langcode` varchar(12) CHARACTER SET ascii "
    "NOT NULL, `name` varchar(60) NOT NULL, `pass` varchar(255) DEFAULT NULL, `mail` varchar(254) DEFAULT NULL, "
    "`status` tinyint(4) DEFAULT NULL, `created` int(11) DEFAULT NULL, `default_langcode` tinyint(4) NOT NULL, "
    "PRIMARY KEY (`uid`,`langcode`), UNIQUE KEY `user__name` (`name`,`langcode`))",
] + [
    f"CREATE TABLE `{name}` (`cid` varchar(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '', "
    "`data` longblob DEFAULT NULL, `expire` int(11) NOT NULL DEFAULT 0, `created` decimal(14,3) NOT NULL DEFAULT 0.000, "
    "`serialized` smallint(6) NOT NULL DEFAULT 0, `tags` longtext DEFAULT NULL, "
    "`checksum` varchar(255) CHARACTER SET ascii NOT NULL, PRIMARY KEY (`cid`), KEY `expire` (`expire`))"
    for name in ("cache_bootstrap", "cache_config", "cache_data", "cache_default", "cache_render")
]
_WP_SCHEMA = [
    "CREATE TABLE `wp_options` (`option_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT, "
    "`option_name` varchar(191) NOT NULL DEFAULT '', `option_value` longtext NOT NULL, "
    "`autoload` varchar(20) NOT NULL DEFAULT 'yes', PRIMARY KEY (`option_id`), UNIQUE KEY `option_name` "
    "(`option_name`), KEY `autoload` (`autoload`))",
    "CREATE TABLE `wp_posts` (`ID` bigint(20) unsigned NOT NULL AUTO_INCREMENT, "
    "`post_author` bigint(20) unsigned NOT NULL DEFAULT 0, `post_date` datetime NOT NULL DEFAULT '0000-00-00 00:00:00', "
    "`post_date_gmt` datetime NOT NULL DEFAULT '0000-00-00 00:00:00', `post_content` longtext NOT NULL, "
    "`post_title` text NOT NULL, `post_excerpt` text NOT NULL, `post_status` varchar(20) NOT NULL DEFAULT 'publish', "
    "`comment_status` varchar(20) NOT NULL DEFAULT 'open', `ping_status` varchar(20) NOT NULL DEFAULT 'open', "
    "`post_password` varchar(255) NOT NULL DEFAULT '', `post_name` varchar(200) NOT NULL DEFAULT '', "
    "`to_ping` text NOT NULL, `pinged` text NOT NULL, `post_modified` datetime NOT NULL DEFAULT '0000-00-00 00:00:00', "
    "`post_modified_gmt` datetime NOT NULL DEFAULT '0000-00-00 00:00:00', `post_content_filtered` longtext NOT NULL, "
    "`post_parent` bigint(20) unsigned NOT NULL DEFAULT 0, `guid` varchar(255) NOT NULL DEFAULT '', "
    "`menu_order` int(11) NOT NULL DEFAULT 0, `post_type` varchar(20) NOT NULL DEFAULT 'post', "
    "`post_mime_type` varchar(100) NOT NULL DEFAULT '', `comment_count` bigint(20) NOT NULL DEFAULT 0, "
    "PRIMARY KEY (`ID`), KEY `post_name` (`post_name`(191)), KEY `type_status_date` "
    "(`post_type`,`post_status`,`post_date`,`ID`))",
    "CREATE TABLE `wp_postmeta` (`meta_id` bigint(20) unsigned NOT NULL AUTO_INCREMENT, "
    "`post_id` bigint(20) unsigned NOT NULL DEFAULT 0, `meta_key` varchar(255) DEFAULT NULL, `meta_value` longtext, "
    "PRIMARY KEY (`meta_id`), KEY `post_id` (`post_id`), KEY `meta_key` (`meta_key`(191)))",
    "CREATE TABLE `wp_users` (`ID` bigint(20) unsigned NOT NULL AUTO_INCREMENT, "
    "`user_login` varchar(60) NOT NULL DEFAULT '', `user_pass` varchar(255) NOT NULL DEFAULT '', "
    "`user_email` varchar(100) NOT NULL DEFAULT '', `user_registered` datetime NOT NULL DEFAULT '0000-00-00 00:00:00', "
    "PRIMARY KEY (`ID`), KEY `user_login_key` (`user_login`))",
]
# Content every seeded database carries, so each route is exercised with it: utf8mb4 (emoji,
# 4-byte characters), CR LF inside text, and binary values (NUL, 0x1a, quotes, backslashes).
SPECIAL_TEXT = "Caf\u00e9 \U0001F680 \U0001F600 \u65e5\u672c\u8a9e \U00010348\r\nline two\r\n\ttab \\ back'slash \"q\""
SPECIAL_BINARY = bytes(range(256)) + b"\r\n\x00\x1a'\"\\\r"


def php_serialize(value):
    """PHP serialize() of str/int/dict (lengths in bytes, as PHP counts them)."""
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, dict):
        return f"a:{len(value)}:{{" + "".join(php_serialize(k) + php_serialize(v) for k, v in value.items()) + "}"
    return f's:{len(str(value).encode())}:"{value}";'


def build_database(db, framework, site_name, env, spec, seed, home_url=None):
    """Replace the environment's database with the framework's core tables and ``spec`` rows."""
    rng = seeded_random("db", seed, site_name, env)
    count = int(spec.get("nodes", spec.get("posts", spec.get("rows", 10))))
    title = spec.get("site_name") or f"{site_name} ({env})"
    now = 1705320000
    db.reset()
    conn = db.connect(autocommit=False)
    try:
        cur = conn.cursor()
        if framework == "wordpress":
            for stmt in _WP_SCHEMA:
                cur.execute(stmt + _ENGINE)
            home = home_url or f"https://{env}-{site_name}.pantheonsite.localhost"
            options = [("siteurl", home), ("home", home), ("blogname", title),
                       ("blogdescription", "Just another WordPress site"), ("admin_email", "admin@example.com"),
                       ("template", "twentytwentyfour"), ("stylesheet", "twentytwentyfour"),
                       ("widget_text", php_serialize({"title": SPECIAL_TEXT, "url": home + "/\U0001F680"})),
                       ("emulator_special", SPECIAL_TEXT)]
            cur.executemany("INSERT INTO wp_options (option_name, option_value) VALUES (%s, %s)", options)
            cur.execute("INSERT INTO wp_users VALUES (1, 'admin', %s, 'admin@example.com', '2024-01-15 12:00:00')",
                        ("$P$B" + rng.getrandbits(120).to_bytes(15, "big").hex(),))
            posts, meta = [], []
            for i in range(1, count + 1):
                body = _sentence(rng, 40) + (("\r\n" + SPECIAL_TEXT) if i == 1 else "")
                posts.append((i, "2024-01-15 12:00:00", "2024-01-15 12:00:00", body, f"{_sentence(rng, 4)} #{i}",
                              "publish" if i % 7 else "draft", f"post-{i}", "2024-01-15 12:00:00",
                              "2024-01-15 12:00:00", f"{home}/?p={i}"))
                meta.append((i, "_edit_last", "1"))
            cur.executemany(
                "INSERT INTO wp_posts (ID, post_author, post_date, post_date_gmt, post_content, post_title, "
                "post_excerpt, post_status, post_name, to_ping, pinged, post_modified, post_modified_gmt, "
                "post_content_filtered, guid, post_type) VALUES (%s, 1, %s, %s, %s, %s, '', %s, %s, '', '', %s, %s, "
                "'', %s, 'post')", posts)
            cur.executemany("INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES (%s, %s, %s)", meta)
            big_table = "wp_options"
            big_sql = "INSERT INTO wp_options (option_name, option_value, autoload) VALUES (%s, %s, 'no')"
        elif framework == "drupal8":
            for stmt in _D8_SCHEMA:
                cur.execute(stmt + _ENGINE)
            cur.execute("INSERT INTO config VALUES ('', 'system.site', %s)",
                        (php_serialize({"uuid": str(uuid.UUID(int=rng.getrandbits(128))), "name": title,
                                        "mail": "admin@example.com", "slogan": SPECIAL_TEXT}).encode(),))
            cur.execute("INSERT INTO key_value VALUES ('state', 'system.private_key', %s)",
                        (php_serialize(rng.getrandbits(256).to_bytes(32, "big").hex()).encode(),))
            cur.execute("INSERT INTO key_value VALUES ('state', 'emulator.binary', %s)", (SPECIAL_BINARY,))
            cur.execute("INSERT INTO users VALUES (0, %s, 'en'), (1, %s, 'en')",
                        (str(uuid.UUID(int=rng.getrandbits(128))), str(uuid.UUID(int=rng.getrandbits(128)))))
            cur.execute("INSERT INTO users_field_data VALUES (0, 'en', '', NULL, NULL, 0, 0, 1), "
                        "(1, 'en', 'admin', %s, 'admin@example.com', 1, %s, 1)",
                        ("$S$D" + rng.getrandbits(200).to_bytes(25, "big").hex(), now))
            nodes, data, bodies = [], [], []
            for i in range(1, count + 1):
                nodes.append((i, i, str(uuid.UUID(int=rng.getrandbits(128)))))
                data.append((i, i, 0 if i % 7 == 0 else 1, f"{_sentence(rng, 4)} #{i}", now + i, now + i))
                bodies.append((i, i, _sentence(rng, 40) + (("\r\n" + SPECIAL_TEXT) if i == 1 else "")))
            cur.executemany("INSERT INTO node VALUES (%s, %s, 'article', %s, 'en')", nodes)
            cur.executemany("INSERT INTO node_field_data VALUES (%s, %s, 'article', 'en', %s, 1, %s, %s, %s, 1, 0, 1)",
                            data)
            cur.executemany("INSERT INTO node__body VALUES ('article', 0, %s, %s, 'en', 0, %s, '', 'basic_html')",
                            bodies)
            cur.executemany("INSERT INTO cache_default VALUES (%s, %s, -1, %s, 0, '', '0')",
                            [(f"cache:{i}", _sentence(rng, 8).encode(), now) for i in range(5)])
            big_table, big_sql = "cache_data", "INSERT INTO cache_data VALUES (%s, %s, -1, 0, 0, '', '0')"
        else:
            for stmt in _D7_SCHEMA:
                cur.execute(stmt + _ENGINE)
            variables = {"site_name": title, "site_mail": "admin@example.com",
                         "file_public_path": "sites/default/files",
                         "cron_key": rng.getrandbits(128).to_bytes(16, "big").hex(),
                         "drupal_private_key": rng.getrandbits(256).to_bytes(32, "big").hex(),
                         "site_slogan": SPECIAL_TEXT}
            cur.executemany("INSERT INTO variable VALUES (%s, %s)",
                            [(name, php_serialize(value).encode()) for name, value in variables.items()])
            cur.execute("INSERT INTO users (uid, name, pass, mail, created, status, data) VALUES "
                        "(0, '', '', '', 0, 0, NULL), (1, 'admin', %s, 'admin@example.com', %s, 1, %s)",
                        ("$S$D" + rng.getrandbits(200).to_bytes(25, "big").hex(), now, b"a:0:{}"))
            cur.executemany("INSERT INTO `system` (filename, name, type, status, schema_version) "
                            "VALUES (%s, %s, 'module', 1, 7000)",
                            [(f"modules/{m}/{m}.module", m) for m in ("system", "node", "user", "field", "filter")])
            nodes, bodies = [], []
            for i in range(1, count + 1):
                nodes.append((i, i, f"{_sentence(rng, 4)} #{i}", 0 if i % 7 == 0 else 1, now + i, now + i))
                bodies.append((i, i, _sentence(rng, 40) + (("\r\n" + SPECIAL_TEXT) if i == 1 else "")))
            cur.executemany("INSERT INTO node (nid, vid, type, language, title, uid, status, created, changed) "
                            "VALUES (%s, %s, 'article', 'und', %s, 1, %s, %s, %s)", nodes)
            cur.executemany("INSERT INTO field_data_body VALUES ('node', 'article', 0, %s, %s, 'und', 0, %s, '', "
                            "'filtered_html')", bodies)
            cur.executemany("INSERT INTO cache VALUES (%s, %s, 0, %s, 0)",
                            [(f"cache:{i}", _sentence(rng, 8).encode(), now) for i in range(5)])
            cur.execute("INSERT INTO cache_bootstrap VALUES ('emulator:binary', %s, 0, %s, 0)", (SPECIAL_BINARY, now))
            big_table, big_sql = "cache", "INSERT INTO cache VALUES (%s, %s, 0, 0, 0)"
        big_rows = parse_size(spec.get("big_row", 0), "db.big_row")
        if big_rows:
            # one row of that many bytes (a multi-MB line in mysqldump output), text for WordPress
            value = rng.randbytes(big_rows // 2 + 1).hex()[:big_rows]
            cur.execute(big_sql, ("emulator_big_row", value if big_table == "wp_options" else value.encode()))
        padding = parse_size(spec.get("padding", 0), "db.padding")
        if padding:
            cur.execute("CREATE TABLE `emulator_padding` (`id` int(11) NOT NULL, `data` longtext, PRIMARY KEY (`id`))"
                        + _ENGINE)
            row = 32 * 1024
            cur.executemany("INSERT INTO emulator_padding VALUES (%s, %s)",
                            [(i, rng.randbytes(row // 2).hex()) for i in range((padding + row - 1) // row)])
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()


# ====================================================================== files
class _RandomStream:
    """Incompressible bytes, fast: a 4 MiB random pool read at random offsets (gzip's 32 KiB window
    cannot exploit the repetition)."""

    def __init__(self, rng):
        self.rng = rng
        self.pool = rng.randbytes(4 * MIB)

    def chunk(self, n):
        off = self.rng.randrange(0, len(self.pool) - n) if n < len(self.pool) else 0
        return self.pool[off:off + n]


def _write_content(path, size, compressible, rng, stream):
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            n = min(left, MIB)
            if compressible:
                line = (" ".join(rng.choice(LOREM) for _i in range(12)) + "\n").encode()
                block = (line * (n // len(line) + 1))[:n]
            else:
                block = stream.chunk(n)
            fh.write(block)
            left -= n
    os.utime(path, (1705320000, 1705320000))


def generate_files(files_dir, spec, seed, site_name):
    """Fill ``files_dir`` per the files spec. Returns the list of relative paths written."""
    rng = seeded_random("files", seed, site_name)
    stream = _RandomStream(rng)
    files_dir = Path(files_dir)
    files_dir.mkdir(parents=True, exist_ok=True)
    count = int(spec.get("count", 5))
    size = spec.get("size", 2048)
    if isinstance(size, list):
        lo, hi = parse_size(size[0], "files.size"), parse_size(size[1], "files.size")
    else:
        lo = hi = parse_size(size, "files.size")
    compressible = bool(spec.get("compressible", True))
    unicode = bool(spec.get("unicode", False))
    depth = int(spec.get("depth", 1))
    nfolders = int(spec.get("folders", 3 if depth else 0))
    folders = [""]
    for i in range(nfolders):
        parts = [f"{'ファイル' if unicode and i % 3 == 2 else 'dir'}-{i}"]
        for d in range(1, depth):
            parts.append(f"level{d}")
        folders.append("/".join(parts[:max(1, rng.randint(1, max(1, depth)))]))
    written = []
    for i in range(count):
        folder = folders[i % len(folders)]
        if unicode and i % 2:
            stem = UNICODE_STEMS[i % len(UNICODE_STEMS)]
            name = f"{stem} {i:04d}.txt"
        else:
            name = f"file-{i:04d}.{'txt' if compressible else 'bin'}"
        rel = f"{folder}/{name}" if folder else name
        target = files_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_content(target, rng.randint(lo, hi), compressible, rng, stream)
        written.append(rel)
    for i in range(int(spec.get("empty_dirs", 0))):
        (files_dir / f"empty-{i}" / "nested-empty").mkdir(parents=True, exist_ok=True)
    for big in spec.get("big", []):
        rel = big["name"]
        target = files_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_content(target, parse_size(big["size"], "files.big.size"), bool(big.get("compressible", False)),
                       rng, stream)
        written.append(rel)
    return written


def _link_tree(src, dest):
    """Copy a tree using hard links (cheap copies of big generated files)."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, copy_function=os.link, symlinks=True)


# ====================================================================== sites
def _env_specs(site_spec):
    envs = site_spec.get("envs", ["dev", "test", "live"])
    if isinstance(envs, list):
        envs = {e: {} for e in envs}
    if not isinstance(envs, dict) or "dev" not in envs:
        raise StoreError(f"site {site_spec.get('name')!r}: envs must include dev")
    out = {}
    for name, spec in envs.items():
        spec = dict(spec or {})
        for key in ("code", "db", "files", "initialized"):
            if key not in spec and key in site_spec:
                spec[key] = site_spec[key]
        out[name] = spec
    return out


def materialize_site(store, site, recipe):
    """Create code (git), databases and files of a seeded site."""
    framework = site["framework"]
    seed = recipe.get("seed", 0)
    envs = _env_specs(recipe)
    dev_paths = store.env_paths(site["id"], "dev", materialize=False)
    content.init_bare_repo(dev_paths.repo)
    env_date = {"GIT_AUTHOR_DATE": COMMIT_DATE, "GIT_COMMITTER_DATE": COMMIT_DATE}
    with tempfile.TemporaryDirectory(prefix="emu-seed-", dir=str(dev_paths.tmp)) as tmp:
        code_extra = (envs["dev"].get("code") or {}).get("files")
        write_code_tree(tmp, framework, site["name"], code_extra, seed)
        if not content.branch_head(dev_paths.repo, "master"):
            content.commit_tree(dev_paths.repo, "master", tmp, "Initial commit", date=COMMIT_DATE)
    generated = {}
    for env, spec in envs.items():
        paths = store.env_paths(site["id"], env, materialize=False)
        branch = branch_for_env(env)
        if branch != "master" and not content.branch_head(paths.repo, branch):
            content.git("update-ref", f"refs/heads/{branch}", "refs/heads/master", git_dir=paths.repo, env=env_date)
            with tempfile.TemporaryDirectory(prefix="emu-seed-", dir=str(paths.tmp)) as tmp:
                write_code_tree(tmp, framework, site["name"], (spec.get("code") or {}).get("files"), seed)
                Path(tmp, "MULTIDEV.txt").write_text(f"Work on the {env} branch.\n")
                content.commit_tree(paths.repo, branch, tmp, f"Start {env}", date=COMMIT_DATE)
        initialized = spec.get("initialized", True)
        tag = None
        if env in ("test", "live") and initialized:
            # test and live run a deploy tag (pantheon_test_1 / pantheon_live_1 at the seeded commit)
            found = content.newest_deploy_tag(paths.repo, env)
            tag = found[0] if found else content.create_deploy_tag(
                paths.repo, env, "refs/heads/master", f"Deploy to {env}", date=COMMIT_DATE)
        if env in ("test", "live") and not initialized:
            head = None  # nothing deployed yet: no tag, no code
        else:
            head = content.checkout_env(paths, branch, framework, tag=tag)
        home = None
        if store.runtime.get("web_port"):
            home = "https://" + store.domain(site["name"], env)
        build_database(paths.db, framework, site["name"], env, spec.get("db") or {}, seed, home)
        files_spec = spec.get("files") or {}
        key = json.dumps(files_spec, sort_keys=True)
        if key in generated:
            _link_tree(generated[key], paths.files)
        else:
            if paths.files.exists():
                shutil.rmtree(paths.files)
            generate_files(paths.files, files_spec, seed, site["name"])
            generated[key] = paths.files
        content.link_files_dir(paths, framework)
        store.update_env(site["id"], env, target_commit=head, is_initialized=bool(initialized),
                         **({"target_ref": f"refs/tags/{tag}"} if tag else {}))


def _ensure_org(store, org_spec):
    if isinstance(org_spec, str):
        org_spec = {"name": org_spec}
    org = store.find_org(org_spec.get("machine_name") or org_spec["name"])
    if not org:
        org = store.create_org(org_spec["name"], org_spec.get("machine_name"), org_id=org_spec.get("id"))
    store.add_org_member(org["id"], store.default_user()["id"], org_spec.get("role", "admin"))
    return org


def seed_recipe(store, recipe):
    """Create everything in a recipe. Sites that already exist (by name) are left alone.
    Returns a list of {id, name, framework, envs, created}."""
    if not isinstance(recipe, dict):
        raise StoreError("a recipe must be a JSON object with a 'sites' list")
    unknown = set(recipe) - {"seed", "sites", "orgs", "comment"}
    if unknown:
        raise StoreError(f"unknown recipe keys {sorted(unknown)}")
    validate_recipe(store, recipe)
    seed = recipe.get("seed", 0)
    for org_spec in recipe.get("orgs", []):
        _ensure_org(store, org_spec)
    out = []
    for spec in recipe.get("sites", []):
        if not isinstance(spec, dict) or "name" not in spec:
            raise StoreError("each site needs a name")
        framework = spec.get("framework", "drupal")
        existing = store.find_site_by_name(spec["name"])
        if existing:
            out.append({"id": existing["id"], "name": existing["name"], "framework": existing["framework"],
                        "envs": [e["env"] for e in store.list_envs(existing["id"])], "created": False})
            continue
        upstream = store.get_upstream(spec["upstream"]) if spec.get("upstream") else \
            store.upstream_for_framework(framework)
        if upstream is None:
            raise StoreError(f"site {spec['name']}: unknown upstream {spec.get('upstream')!r}")
        org_id = _ensure_org(store, spec["org"])["id"] if spec.get("org") else None
        owner_id = None
        if spec.get("owner"):  # another user's site: the default user can neither see it nor take its name
            owner = store.find_user_by_email(spec["owner"]) or store.create_user(spec["owner"], "Other", "User")
            owner_id = owner["id"]
        envs = _env_specs(spec)
        site_seed = dict(spec, seed=spec.get("seed", seed))
        site = store.create_site(spec["name"], spec.get("label"), framework=framework, upstream_id=upstream["id"],
                                 org_id=org_id, owner_id=owner_id,
                                 site_id=spec.get("id") or new_id(seeded_random("site-id", seed, spec["name"])), envs=list(envs),
                                 pending=site_seed if spec.get("lazy") else None)
        settings = {k: spec[k] for k in ("php_version", "drush_version") if k in spec}
        for env, env_spec in envs.items():
            store.update_env(site["id"], env, is_initialized=bool(env_spec.get("initialized", True)), **settings)
        if spec.get("tags"):
            store.set_site_tags(site["id"], spec["tags"])
        if spec.get("frozen"):
            store.update_site(site["id"], frozen=1)
        if spec.get("plan"):
            store.update_site(site["id"], plan_name=str(spec["plan"]))
        if not spec.get("lazy"):
            materialize_site(store, site, site_seed)
        for backup in spec.get("backups", []):
            make_seed_backup(store, site, backup)
        out.append({"id": site["id"], "name": site["name"], "framework": framework, "envs": list(envs),
                    "created": True})
    return out


SITE_KEYS = {"name", "label", "framework", "upstream", "org", "tags", "php_version", "drush_version", "lazy", "envs",
             "code", "db", "files", "initialized", "backups", "seed", "id", "frozen", "plan", "owner"}


def validate_recipe(store, recipe):
    """Check a whole recipe before anything is created; raise StoreError naming the problem."""
    sites = recipe.get("sites", [])
    if not isinstance(sites, list):
        raise StoreError("'sites' must be a list")
    seen = set()
    for i, spec in enumerate(sites):
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise StoreError(f"sites[{i}]: each site needs a name")
        name = spec["name"]
        where = f"site {name!r}"
        unknown = set(spec) - SITE_KEYS
        if unknown:
            raise StoreError(f"{where}: unknown keys {sorted(unknown)}")
        if not SITE_NAME_RE.match(name) or name.endswith("-"):
            raise StoreError(f"{where}: invalid site name: use lowercase letters, digits and hyphens")
        if name in seen:
            raise StoreError(f"{where}: listed twice")
        seen.add(name)
        framework = spec.get("framework", "drupal")
        if framework not in FRAMEWORKS:
            raise StoreError(f"{where}: invalid framework {framework!r}; use one of {', '.join(FRAMEWORKS)}")
        if "owner" in spec and (not isinstance(spec["owner"], str) or "@" not in spec["owner"]):
            raise StoreError(f"{where}: owner must be an email address")
        if spec.get("upstream") and not store.get_upstream(spec["upstream"]):
            raise StoreError(f"{where}: unknown upstream {spec['upstream']!r}")
        for env, env_spec in _env_specs(spec).items():
            if not ENV_NAME_RE.match(env):
                raise StoreError(f"{where}: invalid environment name {env!r}")
            files = env_spec.get("files") or {}
            sizes = files.get("size", 0)
            for size in sizes if isinstance(sizes, list) else [sizes]:
                parse_size(size, f"{where}.{env}.files.size")
            for big in files.get("big", []):
                if not isinstance(big, dict) or "name" not in big or "size" not in big:
                    raise StoreError(f"{where}.{env}: files.big entries need name and size")
                parse_size(big["size"], f"{where}.{env}.files.big.size")
            parse_size((env_spec.get("db") or {}).get("padding", 0), f"{where}.{env}.db.padding")
            parse_size((env_spec.get("db") or {}).get("big_row", 0), f"{where}.{env}.db.big_row")


def _sparse_head(element):
    if element == "database":
        return gzip.compress(b"-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB (sparse seed backup)\n")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"sparse seed backup\n"
        info = tarfile.TarInfo("sparse.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue())


def make_seed_backup(store, site, spec):
    """A backup in the catalog: real archives (do_export run now) or a sparse archive of a given size."""
    from pantheon_emulator import workflows  # pylint: disable=import-outside-toplevel
    env = spec.get("env", "live")
    if spec.get("sparse_size"):
        element = spec.get("element", "files")
        size = parse_size(spec["sparse_size"], "sparse_size")
        ts = workflows._reserve_backup_ts(store, site["id"], env)  # pylint: disable=protected-access
        prefix = workflows.backup_prefix(site, env, ts)
        suffix = ".sql.gz" if element == "database" else ".tar.gz"
        folder_dir = store.backups_dir(site["id"], env, f"{ts}_backup")
        folder_dir.mkdir(parents=True, exist_ok=True)
        path = folder_dir / f"{prefix}_{element}{suffix}"
        with open(path, "wb") as fh:
            # a real first gzip member (a dump's first line, or a tar of one small file), so whatever
            # reads the first bytes sees what such a backup starts with; zeros (a hole) after it
            fh.write(_sparse_head(element))
            fh.truncate(size)
        workflows.record_backup(store, site, env, ts, {element: {"filename": path.name, "size": size}},
                                int(spec.get("ttl", workflows.DEFAULT_TTL)), str(uuid.uuid4()))
        return
    elements = spec.get("elements", ["code", "database", "files"])
    params = {e: e in elements for e in ("code", "database", "files")}
    params.update(entry_type="backup", ttl=int(spec.get("ttl", workflows.DEFAULT_TTL)))
    wf = workflows.create(store, "env", site["id"], env, store.default_user()["id"], "do_export", params)
    workflows.run_workflow(store, wf["id"])
    wf = store.get_workflow(wf["id"])
    if wf["result"] != "succeeded":
        raise StoreError(f"seed backup of {site['name']}.{env} failed: {wf['reason']}")


# ====================================================================== built-in recipes
def demo_fleet(scale=1.0, seed=1):
    """The demo fleet: small D7, D7 over the 256MB archive limit, D7 over the 500MB URL-import
    limit, Drupal 8+, WordPress. ``scale`` shrinks the large files (limits scale separately)."""
    def big(total_mb, parts):
        each = max(1, int(total_mb * MIB * scale / parts))
        return [{"name": f"media/archive-{i + 1:02d}.bin", "size": each, "compressible": False} for i in range(parts)]

    small = {"count": 24, "size": [256, 48 * 1024], "compressible": True, "unicode": True, "depth": 2,
             "folders": 3, "empty_dirs": 1}
    return {"seed": seed, "sites": [
        {"name": "demo-d7-small", "label": "Demo Drupal 7 (small)", "framework": "drupal",
         "db": {"nodes": 25}, "files": small},
        {"name": "demo-d7-large", "label": "Demo Drupal 7 (archive over 256MB)", "framework": "drupal",
         "db": {"nodes": 40}, "files": dict(small, big=big(300, 3))},
        {"name": "demo-d7-huge", "label": "Demo Drupal 7 (files over 500MB)", "framework": "drupal",
         "db": {"nodes": 40}, "files": dict(small, big=big(550, 5))},
        {"name": "demo-d10", "label": "Demo Drupal 10", "framework": "drupal8", "db": {"nodes": 20}, "files": small},
        {"name": "demo-wp", "label": "Demo WordPress", "framework": "wordpress", "db": {"posts": 20},
         "files": dict(small, unicode=True)},
    ]}


def bulk_sites(count, prefix="bulk-", seed=1):
    """``count`` lazily materialized sites (for paging tests); frameworks rotate."""
    frameworks = ("drupal", "drupal8", "wordpress")
    return {"seed": seed, "sites": [
        {"name": f"{prefix}{i:04d}", "framework": frameworks[i % 3], "lazy": True,
         "db": {"nodes": 3}, "files": {"count": 2, "size": 128}} for i in range(count)]}
