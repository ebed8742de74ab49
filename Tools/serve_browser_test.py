#!/usr/bin/env python3
"""The browser test of `irzoo serve` (issue 17), run by `make test`.

Debian's Chromium, headless, driven by Playwright (executable_path: Playwright's own browser
download is not used). It imports the demo denoiser (Zoo/demo, a small SymUNet trained for
sigma 25 noise) into a private store, starts `irzoo serve --port 0`, uploads the held-out noisy
photo with its clean reference through the page, waits for the result, checks that the comparison
view shows both images, zooms and pans, shows PSNR and SSIM, downloads the result and checks it is
byte for byte what `irzoo run` writes for the same input. The screenshots of the comparison view
are kept in --out (test artifacts). The server is stopped by its PID.
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time

from playwright.sync_api import sync_playwright



class Checks:
    def __init__(self):
        self.passed, self.failed = 0, 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
            print(f"ok: {what}")
        else:
            self.failed += 1
            print(f"FAILED: {what}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--irzoo", required=True)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--demo", default="Zoo/demo")
    ap.add_argument("--out", default=".build/serve-browser")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    checks = Checks()
    work = tempfile.mkdtemp(prefix="irzoo-browser-")
    env = dict(os.environ, IRZOO_HOME=os.path.join(work, "store"), TMPDIR=work, TERM="dumb")
    server = None
    try:
        subprocess.run([args.irzoo, "import", os.path.join(args.demo, "symunet-demo.pth"), "--arch", "symunet-demo", "--name", "demo"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        # A space in the name: it must survive the upload and come back in the download's name.
        image = os.path.join(work, "chelsea noisy.png")
        shutil.copy(os.path.join(args.demo, "chelsea-noisy-s25.png"), image)
        reference = os.path.join(args.demo, "chelsea-clean.png")
        expected = os.path.join(work, "cli.png")
        cli = subprocess.run([args.irzoo, "run", "demo", "--input", image, "--output", expected, "--reference", reference, "--json"],
                             env=env, check=True, capture_output=True, text=True)
        cli_reference = json.loads(cli.stdout)["reference"]

        log = open(os.path.join(work, "serve.out"), "w+")
        server = subprocess.Popen([args.irzoo, "serve", "--port", "0"], env=env, stdout=log, stderr=subprocess.STDOUT)
        url = None
        for _ in range(600):
            log.seek(0)
            m = re.search(r"http://127\.0\.0\.1:\d+/", log.read())
            if m:
                url = m.group(0)
                break
            if server.poll() is not None:
                break
            time.sleep(0.05)
        if not url:
            log.seek(0)
            raise SystemExit("irzoo serve did not start: " + log.read())
        print(f"server: {url} (pid {server.pid})")

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
            console_errors = []
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", timeout=30000)
            row = page.locator("[data-testid=models] tr[data-model=demo]")
            checks.check(row.count() == 1 and "symunet" in row.inner_text().lower() and "denoise" in row.inner_text(),
                         f"the models table lists the installed model with what it restores ({row.inner_text()!r})")
            checks.check(page.locator("[data-testid=models] tr[data-model=demo] input").is_checked(), "the runnable model is selected")

            page.set_input_files("[data-testid=reference]", reference)
            page.set_input_files("[data-testid=files]", image)
            job = page.locator("[data-job]")
            job.first.wait_for(timeout=30000)
            page.wait_for_selector("[data-job][data-state=done]", timeout=120000)
            checks.check("chelsea noisy.png" in job.first.inner_text(), "the job shows the file name")

            page.wait_for_selector("[data-testid=compare][data-loaded=true]", timeout=30000)
            sizes = page.evaluate("""() => ['before', 'after'].map(id => {
                const i = document.getElementById(id); return [i.complete, i.naturalWidth, i.naturalHeight]; })""")
            checks.check(sizes == [[True, 451, 300], [True, 451, 300]], f"the comparison shows both images at 451x300 (got {sizes})")
            psnr = page.inner_text("[data-testid=details] dd[data-key=PSNR]")
            ssim = page.inner_text("[data-testid=details] dd[data-key=SSIM]")
            want_psnr = f"input {cli_reference['psnr_input_db']:.2f} dB → result {cli_reference['psnr_output_db']:.2f} dB"
            want_ssim = f"input {cli_reference['ssim_input']:.4f} → result {cli_reference['ssim_output']:.4f}"
            checks.check(psnr == want_psnr, f"PSNR shown as irzoo run reports it ({psnr!r} vs {want_psnr!r})")
            checks.check(ssim == want_ssim, f"SSIM shown as irzoo run reports it ({ssim!r} vs {want_ssim!r})")

            # Zoom: 200% and 400% on both images at once (one transform), and the split follows the slider.
            page.click("button.zoom[data-zoom='2']")
            checks.check(page.inner_text("[data-testid=zoom-level]") == "200%", "zoom to 200%")
            page.click("button.zoom[data-zoom='4']")
            checks.check(page.inner_text("[data-testid=zoom-level]") == "400%", "zoom to 400%")
            box = page.locator("[data-testid=compare]").bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 2 - 60, box["y"] + box["height"] / 2 - 30, steps=4)
            page.mouse.up()
            moved = page.evaluate("() => document.getElementById('stage').style.transform")
            checks.check("scale(4)" in moved, f"panning keeps the zoom ({moved})")
            page.locator("[data-testid=slider]").fill("300")
            clip = page.evaluate("() => document.getElementById('after').style.clipPath")
            checks.check(clip.startswith("inset(0px 0px 0px") or clip.startswith("inset(0 0 0"), f"the after image is cut at the split ({clip})")
            # The kept view: 200 % on the cat's face, split in the middle.
            page.click("button.zoom[data-zoom='2']")
            page.locator("[data-testid=slider]").fill("500")
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2 + 120, steps=4)
            page.mouse.up()
            shot = os.path.join(args.out, "serve-compare.png")
            page.locator("#compare-section").screenshot(path=shot)
            page.screenshot(path=os.path.join(args.out, "serve-page.png"), full_page=True)
            checks.check(os.path.getsize(shot) > 1000, f"screenshot of the comparison view kept: {shot}")

            with page.expect_download() as info:
                page.click("[data-testid=download]")
            download = info.value
            got = os.path.join(args.out, "downloaded.png")
            download.save_as(got)
            checks.check(download.suggested_filename == "chelsea noisy-restored.png", f"download name ({download.suggested_filename})")
            checks.check(open(got, "rb").read() == open(expected, "rb").read(), "the downloaded file equals what `irzoo run` writes")
            checks.check(console_errors == [], f"no errors in the page's console ({console_errors})")
            browser.close()
    finally:
        if server is not None and server.poll() is None:
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(server.pid, signal.SIGKILL)
        shutil.rmtree(work, ignore_errors=True)
    print(f"browser: {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
