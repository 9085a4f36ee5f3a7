"""Local emulators of the Twitter/X v2, Reddit and Slack APIs, bound to 127.0.0.1.

They speak the real wire format so the real tweepy, praw and slack-sdk clients can be tested
against them, and ``listener demo`` runs on them. ``base`` holds the shared HTTP machinery:
routing, request recording and fault injection.
"""
