"""The site agent (`mediasrv-site`): keeps a village site's cache complete and serves it on the LAN."""
