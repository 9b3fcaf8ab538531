"""SSH side of the Pantheon emulator: appserver commands (drush, wp, rsync, SFTP) and codeserver git.

Entry point: ``await start_ssh_server(store, host, port)``; see ``README.md`` in this folder.
"""

from pantheon_emulator.ssh.server import SSHServerHandle, load_host_key, start_ssh_server

__all__ = ["start_ssh_server", "SSHServerHandle", "load_host_key"]
