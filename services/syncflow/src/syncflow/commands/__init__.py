"""Command groups of the ``syncflow`` command that live in modules of their own."""
