"""Synthesize the bundled non-cry clips: sounds a baby monitor hears that are not a cry.

Every clip is made here from oscillators, noise and filters (no recording, no third-party
audio): synthesized speech (a glottal pulse train through vowel formants, with intonation and
syllables), white, pink and brown noise (a fan, a rumble), mains hum, microwave beeps, door
knocks, a bark-like burst pattern, a chord (a TV's music), and room silence. They are 8 kHz,
mono, 16-bit and 7 s long, like the bundled Donate-a-cry clips, so that a detector trained on
the bundled data cannot tell cries from the rest by sample rate or bandwidth alone.

    python3 scripts/make_not_cry_samples.py data/samples/not_cry

Needs only the Python standard library; seeded, so the files are the same on every run. The
product and CI never run it.
"""

import math
import random
import struct
import sys
import wave
from pathlib import Path

RATE = 8000
SECONDS = 7.0
N = int(RATE * SECONDS)


def biquad_bandpass(x, freq, q):
    """RBJ band-pass (constant 0 dB peak gain)."""
    w0 = 2 * math.pi * freq / RATE
    alpha = math.sin(w0) / (2 * q)
    b0, b1, b2 = alpha, 0.0, -alpha
    a0, a1, a2 = 1 + alpha, -2 * math.cos(w0), 1 - alpha
    b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
    y, x1, x2, y1, y2 = [], 0.0, 0.0, 0.0, 0.0
    for v in x:
        out = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        x2, x1, y2, y1 = x1, v, y1, out
        y.append(out)
    return y


def normalize(x, dbfs):
    peak = max(1e-9, max(abs(v) for v in x))
    rms = math.sqrt(sum(v * v for v in x) / len(x))
    gain = min(10 ** (dbfs / 20) / max(rms, 1e-12), 0.95 / peak)
    return [v * gain for v in x]


def speech(rng, base_f0):
    vowels = [(730, 1090, 2440), (530, 1840, 2480), (270, 2290, 3010), (570, 840, 2410), (300, 870, 2240)]
    out = [0.0] * N
    t = 0.2
    while t < SECONDS - 0.4:
        syllables = rng.randint(2, 6)
        for _ in range(syllables):
            dur = rng.uniform(0.12, 0.3)
            f1, f2, f3 = rng.choice(vowels)
            start, end = int(t * RATE), min(N, int((t + dur) * RATE))
            phase = 0.0
            src = []
            for i in range(start, end):
                k = (i - start) / max(1, end - start)
                f0 = base_f0 * (1.1 - 0.25 * (t / SECONDS)) * (1 + 0.05 * math.sin(2 * math.pi * k))
                phase += f0 / RATE
                pulse = 1.0 if phase >= 1.0 else 0.0
                phase -= math.floor(phase)
                env = math.sin(math.pi * k) ** 0.5
                src.append(pulse * env + 0.02 * rng.gauss(0, 1) * env)
            voiced = [a + b + 0.5 * c for a, b, c in zip(
                biquad_bandpass(src, f1, 6), biquad_bandpass(src, f2, 8), biquad_bandpass(src, f3, 10))]
            for j, v in enumerate(voiced):
                out[start + j] += v
            t += dur + rng.uniform(0.02, 0.08)
        t += rng.uniform(0.3, 0.9)
    return normalize(out, -26)


def colored_noise(rng, kind):
    out, b = [], [0.0] * 7
    last = 0.0
    for _ in range(N):
        w = rng.gauss(0, 1)
        if kind == "white":
            out.append(w)
        elif kind == "pink":  # Paul Kellet's economy pink filter
            b[0] = 0.99765 * b[0] + w * 0.0990460
            b[1] = 0.96300 * b[1] + w * 0.2965164
            b[2] = 0.57000 * b[2] + w * 1.0526913
            out.append(b[0] + b[1] + b[2] + w * 0.1848)
        else:
            last = 0.98 * last + w * 0.2
            out.append(last)
    return normalize(out, {"white": -32, "pink": -30, "brown": -28}[kind])


def hum(rng):
    f = 50.0 * rng.uniform(0.998, 1.002)
    out = [sum(a * math.sin(2 * math.pi * f * h * i / RATE) for h, a in [(1, 1.0), (2, 0.5), (3, 0.3), (5, 0.15)])
           + 0.01 * rng.gauss(0, 1) for i in range(N)]
    return normalize(out, -30)


def beeps(rng):
    out = [0.003 * rng.gauss(0, 1) for _ in range(N)]
    for k in range(3):
        start = int((1.5 + 1.2 * k) * RATE)
        for i in range(start, start + int(0.5 * RATE)):
            out[i] += 0.5 * math.sin(2 * math.pi * 1000 * i / RATE)
    return normalize(out, -24)


def knocks(rng):
    out = [0.003 * rng.gauss(0, 1) for _ in range(N)]
    t = 1.0
    for group in range(2):
        for _ in range(3):
            start = int(t * RATE)
            f = rng.uniform(180, 260)
            for i in range(start, min(N, start + int(0.25 * RATE))):
                k = (i - start) / RATE
                out[i] += math.exp(-k * 30) * (math.sin(2 * math.pi * f * k) + 0.3 * rng.gauss(0, 1))
            t += 0.22
        t += 2.0
    return normalize(out, -24)


def barks(rng):
    out = [0.004 * rng.gauss(0, 1) for _ in range(N)]
    t = 0.8
    while t < SECONDS - 0.5:
        start, dur = int(t * RATE), rng.uniform(0.12, 0.2)
        f0 = rng.uniform(350, 550)
        src = []
        for i in range(int(dur * RATE)):
            k = i / (dur * RATE)
            env = math.sin(math.pi * min(1.0, k * 3)) * math.exp(-3 * k)
            src.append(env * (sum(math.sin(2 * math.pi * f0 * h * i / RATE) / h for h in range(1, 6))
                              + 0.6 * rng.gauss(0, 1)))
        shaped = biquad_bandpass(src, 900, 2)
        for j, v in enumerate(shaped):
            if start + j < N:
                out[start + j] += v
        t += dur + (rng.uniform(0.15, 0.3) if rng.random() < 0.6 else rng.uniform(0.8, 1.5))
    return normalize(out, -24)


def chord(rng):
    notes = [220.0, 277.18, 329.63, 440.0]
    out = []
    for i in range(N):
        k = i / RATE
        bar = math.floor(k / 1.75)
        shift = [1.0, 0.8909, 0.7492, 0.8409][bar % 4]
        env = 0.6 + 0.4 * math.exp(-((k % 1.75) * 2))
        out.append(env * sum(math.sin(2 * math.pi * n * shift * k) / (j + 1) for j, n in enumerate(notes))
                   + 0.01 * rng.gauss(0, 1))
    return normalize(out, -26)


def silence(rng):
    return normalize([rng.gauss(0, 1) for _ in range(N)], -66)


CLIPS = [
    ("speech-low", lambda r: speech(r, 110)),
    ("speech-high", lambda r: speech(r, 210)),
    ("noise-white", lambda r: colored_noise(r, "white")),
    ("noise-fan-pink", lambda r: colored_noise(r, "pink")),
    ("noise-rumble-brown", lambda r: colored_noise(r, "brown")),
    ("hum-mains", hum),
    ("beeps-microwave", beeps),
    ("knocks-door", knocks),
    ("barks-synthetic", barks),
    ("music-chord", chord),
    ("room-silence", silence),
]


def main() -> None:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for seed, (name, make) in enumerate(CLIPS):
        samples = make(random.Random(1000 + seed))
        with wave.open(str(out_dir / f"synth-{name}.wav"), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(b"".join(struct.pack("<h", int(max(-1.0, min(1.0, v)) * 32767)) for v in samples))
        print(out_dir / f"synth-{name}.wav")


if __name__ == "__main__":
    main()
