"""Pipeline stages as functions over explicit inputs, run by the daemon and by queue tasks."""
