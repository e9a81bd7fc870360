"""``revsim serve``: a local what-if page for a scenario (FastAPI + uvicorn, the ``serve`` extra)."""

from __future__ import annotations

import click

from revsim.cli.errors import reports_errors

__all__ = ["serve"]

INSTALL = 'pip install "revsim[serve]"'


@click.command()
@click.argument("scenario", type=click.Path(path_type=str))
@click.option("--port", "-p", type=click.IntRange(min=0, max=65535), default=8050, show_default=True,
              help="Port to listen on (0: any free port).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. The default answers this computer only; 0.0.0.0 shares the page with "
                   "the local network (anyone who reaches it can run the scenario and save files in its folder).")
@click.option("--draws", "-n", type=click.IntRange(min=1, max=10_000_000), default=1000, show_default=True,
              help="Draws of the full run of every change (revsim compare's --draws).")
@click.option("--preview-draws", type=click.IntRange(min=1, max=10_000_000), default=250, show_default=True,
              help="Draws of the preview that answers first, before the full run refines it.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of every run (revsim compare's --seed): the page's numbers are compare's.")
@click.option("--threads", type=click.IntRange(min=1, max=1024), default=None,
              help="Worker threads [default: all cores]. Results do not depend on it.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in the default web browser.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@reports_errors
def serve(scenario: str, port: int, host: str, draws: int, preview_draws: int, seed: int, threads: int | None,
          open_browser: bool, quiet: bool) -> None:
    """Serve a what-if page for SCENARIO: its levers and main inputs as sliders, and a --set field.

    Each change runs the variant and the base on the same random numbers, as revsim compare does: the ARR
    fan of the variant over the base, the difference at the horizon with its paired interval, the ARR
    bridge, the KPIs and the chance of every target, base and variant side by side. A preview at
    --preview-draws answers first, then the full --draws run refines it. The page saves the variant as a
    scenario file next to SCENARIO and exports its board report. Stop with Ctrl-C.

    \b
    Examples:
      revsim serve scenarios/saas_sales_led.yaml --open
      revsim serve company.yaml --port 8060 --draws 2000 --seed 42
    """
    from revsim.errors import InputError
    from revsim.interruption import Interrupted

    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise InputError.single(f"revsim serve needs FastAPI and uvicorn, which are not installed: {INSTALL}",
                                path=("serve",)) from None
    from revsim.serve.app import LOOPBACK_HOSTS, create_app
    from revsim.serve.session import WhatIfSession

    session = WhatIfSession(scenario, draws=draws, preview_draws=preview_draws, seed=seed, threads=threads)
    if not quiet:
        click.echo(f"{session.base.model.name}: {len(session.controls)} controls; running the base "
                   f"({session.preview_draws:,} and {session.draws:,} draws, seed {seed})...", err=True)
    seconds = session.warm_up()
    listener = _listen(host, port)
    actual_port = listener.getsockname()[1]
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown_host if ':' not in shown_host else f'[{shown_host}]'}:{actual_port}/"
    loopback = host in ("127.0.0.1", "localhost", "::1")
    app = create_app(session, allowed_hosts=LOOPBACK_HOSTS if loopback else ["*"])
    if not quiet:
        click.echo(f"ready in {seconds:.1f} s: {url}  (Ctrl-C stops the server)", err=True)
        if not loopback:
            click.echo(f"note: listening on {host}: other computers that reach this one can use the page", err=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[listener])
    except Interrupted:  # uvicorn shut down on the signal, then passed it on
        pass
    if not quiet:
        click.echo("stopped", err=True)


def _listen(host: str, port: int):  # noqa: ANN202 - a socket
    """A listening socket on ``host:port``, or an input error saying why not (port taken, unknown host)."""
    import errno
    import socket

    from revsim.errors import InputError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError.single(f"cannot listen on '{host}': {exc.strerror}", path=("--host",)) from None
    family, kind, proto, _, address = infos[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as exc:
        listener.close()
        reason = "it is in use (another revsim serve?); choose another --port" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise InputError.single(f"cannot listen on {host}:{port}: {reason}", path=("--port",)) from None
    listener.listen(64)
    listener.set_inheritable(True)
    return listener
