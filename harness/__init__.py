"""mpd-harness: reproduce the RecSys Challenge 2018 protocol on the Million Playlist Dataset."""

__version__ = "0.1.0"
