"""The form catalogue (报表目录) and the platforms named in notices (issue 18).

* ``forms`` — registering forms (notice, attachment, console), 重复采集 at field level, decisions;
* ``platforms`` — the platform list, renamed and merged by admins;
* ``notice`` — the two calls task creation makes;
* ``queries`` — the catalogue as the console and the report list it;
* ``texts`` — the Chinese lines receipts and pages use.
"""
