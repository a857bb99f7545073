"""``art completion SHELL``: print the shell completion script (bash, zsh or fish)."""

import click


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def cli(shell: str) -> None:
    """Print a completion script for SHELL; source it to complete commands, options and paths.

    \b
    Examples:
      art completion bash > ~/.local/share/bash-completion/completions/art
      echo 'source <(art completion zsh)' >> ~/.zshrc
      art completion fish > ~/.config/fish/completions/art.fish
    """
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root()
    cls = get_completion_class(shell)
    assert cls is not None  # the Choice above admits only shells click supports
    click.echo(cls(root.command, {}, "art", "_ART_COMPLETE").source())
