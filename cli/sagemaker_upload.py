"""What `golive train --sagemaker` uploads: every local channel as the job's training will read it from its channel
folder, and the source as the pipeline ships it, under s3://<data bucket>/cli-jobs/<job>/.

The files are picked by training's own rules, so what is uploaded is what the job reads: data, validation and
evaluation folders by training/reading.py's (the data files at the top), feedback exports as every .jsonl under
the folder (one folder per day, paths kept), a base model folder whole, and a champion as training/comparison.py
finds it (a bundle folder's files, or its model.tar.gz), verified first. Everything is checked before any upload,
so a mistake costs no upload and no job."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

from golive.errors import UserError
from training.args import TrainArguments

# TrainArguments fields that are channels of the job (their SM_CHANNEL_<NAME> variable), by field name
CHANNELS = {
    f.name: f.metadata["env"].removeprefix("SM_CHANNEL_").lower()
    for f in fields(TrainArguments)
    if (f.metadata["env"] or "").startswith("SM_CHANNEL_")
}
TREE_CHANNELS = {"feedback_data"}  # read as every .jsonl under the folder (training/feedback.py: tree=True)


@dataclass(frozen=True)
class Channel:
    """One channel of the job: an s3:// URI taken as it is, or local files to upload (key under its folder)."""

    name: str  # the job's channel: SM_CHANNEL_<NAME>
    option: str  # the flag that gave it, for messages
    given: str  # the flag's value
    files: dict[str, Path] = field(default_factory=dict)  # empty for an s3:// URI


def job_channels(args: TrainArguments) -> list[Channel]:
    """Every channel the flags give, local ones with the files to upload; no AWS call (mistakes first)."""
    channels = []
    for name, channel in CHANNELS.items():
        value = getattr(args, name)
        if value is None:
            continue
        option = f"--{name.replace('_', '-')}"
        files = {} if value.startswith("s3://") else local_files(name, option, Path(value))
        channels.append(Channel(channel, option, value, files))
    return channels


def local_files(name: str, option: str, path: Path) -> dict[str, Path]:
    """The files of a local channel that training reads, by their key under the channel's folder."""
    if not path.exists():
        raise UserError(f"{option} {path} does not exist")
    if name == "champion":
        return champion_files(path)
    if path.is_file():
        return {path.name: path}
    if name == "base_model":
        return {p.relative_to(path).as_posix(): p for p in sorted(path.rglob("*")) if p.is_file()}
    from training.reading import list_sources

    try:
        sources = list_sources(str(path), tree=name in TREE_CHANNELS)
    except UserError as exc:
        raise UserError(f"{option} {exc}") from None
    return {Path(source).relative_to(path).as_posix(): Path(source) for source in sources}


def champion_files(path: Path) -> dict[str, Path]:
    """A champion as the job's training finds it in its channel (training/comparison.py): a bundle folder's files,
    or its tarball as model.tar.gz; either verified against its manifest, so a broken one starts no job."""
    from golive import bundle
    from training.comparison import find_champion

    found = find_champion(str(path))
    try:
        if found.is_dir():
            manifest = bundle.verify_bundle(found)
            return {name: found / name for name in [*manifest.files, bundle.MANIFEST]}
        _verify_tarball(found)
    except UserError as exc:
        raise UserError(
            f"--champion {path} is not a sound bundle: {exc}; pass the serving model's bundle or its {bundle.TARBALL}"
        ) from None
    return {bundle.TARBALL: found}  # the name the job looks for (a .tgz would not be found there)


def _verify_tarball(tarball: Path) -> None:
    import tarfile

    from golive import bundle

    with tempfile.TemporaryDirectory(prefix="golive-champion-") as folder:
        try:
            bundle.unpack_tarball(tarball, Path(folder))
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise UserError(f"{tarball} is not a readable {bundle.TARBALL} ({exc})") from None


def upload(session, bucket: str, name: str, channels: list[Channel]) -> tuple[str, list[dict]]:
    """The source tarball and every local channel under s3://<bucket>/cli-jobs/<job>/: the source's URI and the
    job's channels (s3:// ones as given)."""
    from golive.aws_errors import aws_errors
    from infra.assets.training_source import build_source_tarball
    from infra.training_job import CLI_JOBS_PREFIX, s3_channel

    s3, base = session.client("s3"), f"{CLI_JOBS_PREFIX}{name}/"
    with aws_errors(
        f"cannot upload to s3://{bucket}/{base}", "s3:PutObject on the data bucket and kms:GenerateDataKey"
    ):
        uris = {c.name: _put(s3, c, bucket, f"{base}{c.name}/") if c.files else c.given for c in channels}
        with tempfile.TemporaryDirectory() as tmp:
            tarball = build_source_tarball(Path(tmp) / "sourcedir.tar.gz")
            s3.upload_file(str(tarball), bucket, f"{base}source/sourcedir.tar.gz")
    return f"s3://{bucket}/{base}source/sourcedir.tar.gz", [s3_channel(name, uri) for name, uri in uris.items()]


def _put(s3, channel: Channel, bucket: str, prefix: str) -> str:
    files = channel.files
    size = sum(p.stat().st_size for p in files.values())
    shown = f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"
    count = f"{len(files)} file{'s' * (len(files) > 1)}"
    print(f"uploading {channel.option} {channel.given} ({count}, {shown}) to s3://{bucket}/{prefix}", flush=True)
    for key, file in files.items():
        s3.upload_file(str(file), bucket, prefix + key)
    return f"s3://{bucket}/{prefix}"
