"""The method lab: unlearning methods run under control (planted signals, canaries, class
removal, streams of requests), the baseline methods and the method comparison table."""
