"""Files processed in worker threads with ``tracer.fs_sync()``: each upload is downloaded,
turned into Markdown, and uploaded back to ``out``; links are built from ``tracer.fid``. The
form puts a checkbox after its buttons."""

import asyncio
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

# kodosumi: from kodosumi.core import ServeAPI, forms as F, Tracer, Launch
# kodosumi: from kodosumi.response import Markdown
from flows import Launch, ServeAPI, Tracer
from flows import forms as F
from flows.response import Markdown

app = ServeAPI()


def process_file(file: str, tracer: Tracer, ignore_errors: bool = True) -> dict:
    fs = tracer.fs_sync()
    local = next(fs.download(file))
    tracer.debug_sync(f"start processing `{file}`")
    words = Path(local).read_text().split()
    target = Path(mkdtemp()) / Path(file).with_suffix(".md").name
    target.write_text("# " + " ".join(words))
    fs.upload(str(target))
    fs.close()
    return {"source": file, "target": target.name, "words": len(words)}


async def run(inputs: dict, tracer: Tracer) -> Any:
    afs = await tracer.fs()
    files = await afs.ls("in")
    await tracer.markdown("### File Processing Started")
    await tracer.markdown(
        "\n".join(f"* [{f['path']}](/files/{tracer.fid}/{f['path']})" for f in files)
    )
    results = await asyncio.gather(
        *(
            asyncio.to_thread(process_file, f["path"], tracer, inputs["ignore_errors"])
            for f in files
        )
    )
    out = await afs.ls("out")
    await afs.close()
    lines = [f"* {r['source']}: {r['words']} words -> {r['target']}" for r in results]
    return Markdown("### File Processing Completed", *lines, f"{len(out)} files in out")


model = F.Model(
    F.Markdown("# Parallel Text Processing"),
    F.Break(),
    F.HR(),
    F.InputFiles(
        label="Upload Files", name="files", multiple=True, directory=False, required=False
    ),
    F.HR(),
    F.Submit("Start"),
    F.Cancel("Cancel"),
    F.Checkbox(name="ignore_errors", option="ignore errors", value=True),
)


@app.enter(path="/upload", model=model, summary="Text Processing")
async def enter(request: Any, inputs: dict) -> Any:
    return Launch(request, "tests.kodosumi_apps.upload:run", inputs=inputs)
