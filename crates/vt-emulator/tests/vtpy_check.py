"""Drives a running vt-emulator with the official client, vt-py, unmodified.

Usage: vtpy_check.py BASE_URL API_KEY UNKNOWN_SHA256
Exits 0 when every check passes; an assertion or API error exits non-zero.
"""

import hashlib
import io
import os
import sys
import tempfile

import vt

EICAR_SHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
# The sample of the crate's example fixtures (fixtures/content/<sha256>).
FIXTURE_SHA256 = "5e5e790f8a884ebe9278a5e939f2db05dcfff55c479c74bd7f21cdd10d1a8b95"


def main() -> None:
    base_url, key, unknown_sha256 = sys.argv[1], sys.argv[2], sys.argv[3]
    with vt.Client(key, host=base_url) as client:
        eicar = client.get_object(f"/files/{EICAR_SHA256}")
        assert eicar.type == "file" and eicar.id == EICAR_SHA256
        assert eicar.size == 68
        assert eicar.last_analysis_stats["malicious"] > 50, eicar.last_analysis_stats
        assert eicar.last_analysis_date.year >= 2020  # vt-py turns *_date into datetimes
        by_md5 = client.get_object("/files/44d88612fea8a8f36de82e1278abb02f")
        assert by_md5.id == EICAR_SHA256

        try:
            client.get_object(f"/files/{unknown_sha256}")
            raise AssertionError("unknown file must raise")
        except vt.APIError as error:
            assert error.code == "NotFoundError", error

        url = "http://vtpy-check.example/landing?x=1"
        analysis = client.scan_url(url, wait_for_completion=True)
        assert analysis.status == "completed", analysis.status
        url_obj = client.get_object("/urls/{}", vt.url_id(url))
        assert url_obj.url == url, url_obj.url
        assert "malicious" in url_obj.last_analysis_stats

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vtpy-sample.bin")
            content = os.urandom(4096)
            with open(path, "wb") as handle:
                handle.write(content)
            with open(path, "rb") as handle:
                analysis = client.scan_file(handle, wait_for_completion=True)
        assert analysis.status == "completed", analysis.status
        sha256 = hashlib.sha256(content).hexdigest()
        uploaded = client.get_object(f"/files/{sha256}")
        assert uploaded.size == 4096
        assert uploaded.meaningful_name == "vtpy-sample.bin", uploaded.meaningful_name

        domain = client.get_object("/domains/{}", "vtpy-check.example")
        assert domain.type == "domain"
        ip = client.get_object("/ip_addresses/{}", "8.8.4.4")
        assert ip.type == "ip_address"

        # Collections: vt-py's iterator follows meta.cursor page by page.
        page = client.get_json(f"/files/{EICAR_SHA256}/contacted_domains", params={"limit": 40})
        expected = [item["id"] for item in page["data"]]
        related = list(client.iterator(f"/files/{EICAR_SHA256}/contacted_domains", batch_size=3))
        assert [obj.id for obj in related] == expected, (len(related), len(expected))
        assert len(related) > 3 and all(obj.type == "domain" for obj in related)

        sample = io.BytesIO()
        client.download_file(EICAR_SHA256, sample)
        assert hashlib.sha256(sample.getvalue()).hexdigest() == EICAR_SHA256

        comment = vt.Object("comment")
        comment.text = "seen in the emulator #vtpy"
        created = client.post_object(f"/files/{EICAR_SHA256}/comments", obj=comment)
        assert created.type == "comment" and created.tags == ["vtpy"], created.to_dict()

        # The object routes, each through get_object.
        again = client.get_object("/comments/{}", created.id)
        assert again.id == created.id and again.text == comment.text
        ruleset_id = eicar.crowdsourced_yara_results[0]["ruleset_id"]
        ruleset = client.get_object("/yara_rulesets/{}", ruleset_id)
        assert ruleset.type == "yara_ruleset" and "rule " in ruleset.rules
        user = client.get_object("/users/{}", key)
        assert user.type == "user"
        sigma = client.get_object("/sigma_analyses/{}", EICAR_SHA256)
        assert sigma.type == "sigma_analysis" and sigma.stats == eicar.sigma_analysis_stats
        behaviours = list(client.iterator(f"/files/{EICAR_SHA256}/behaviours", batch_size=1))
        assert behaviours and set(eicar.sandbox_verdicts) == {b.sandbox_name for b in behaviours}
        for behaviour in behaviours:
            fetched = client.get_object("/file_behaviours/{}", behaviour.id)
            assert fetched.id == behaviour.id
        summary = client.get_json(f"/files/{EICAR_SHA256}/behaviour_summary")
        assert summary["data"]["processes_created"], summary
        resolutions = list(client.iterator("/domains/example.com/resolutions", limit=5))
        for resolution in resolutions:
            assert client.get_object("/resolutions/{}", resolution.id).host_name == "example.com"
        siblings = list(client.iterator("/domains/example.com/siblings", batch_size=2, limit=7))
        assert all(obj.type == "domain" for obj in siblings)
        categories = client.get_json("/popular_threat_categories")
        assert "trojan" in categories["data"]

        fixture = io.BytesIO()
        client.download_file(FIXTURE_SHA256, fixture)
        assert hashlib.sha256(fixture.getvalue()).hexdigest() == FIXTURE_SHA256

        if hasattr(client, "scan_url_private"):
            private = client.scan_url_private("http://vtpy-private.example/", wait_for_completion=True)
            assert private.status == "completed", private.status
    print("vt-py check passed")


if __name__ == "__main__":
    main()
