#!/bin/sh
# make.sh regenerates the default media clips embedded in the loadgen binary.
#
# Requirements: Debian's ffmpeg (apt-get install -y ffmpeg), built with
# libopus and libvpx. CI does not run this script: audio.ogg and video.ivf are
# committed. The output is deterministic for a given ffmpeg build
# (-bitexact, fixed seeds-free synthetic sources, single thread).
set -eu
cd "$(dirname "$0")"

# Audio: 4 s, 48 kHz mono Opus in Ogg, 20 ms frames, 24 kbit/s CBR-ish.
# A 440 Hz tone with a slow 3 Hz tremolo so a listener (or a MOS tool)
# hears something non-trivial.
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=4,tremolo=f=3:d=0.5" \
  -ac 1 -c:a libopus -b:a 24k -vbr off -frame_duration 20 -application voip \
  -page_duration 20000 -threads 1 \
  -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
  audio.ogg

# Video: 4 s, 320x240 at 15 fps VP8 in IVF, about 150 kbit/s, a keyframe
# every 2 s. testsrc2 is a moving synthetic pattern (deterministic).
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=320x240:rate=15:duration=4" \
  -c:v libvpx -b:v 150k -minrate 150k -maxrate 150k -g 30 -keyint_min 30 \
  -deadline good -cpu-used 4 -threads 1 -auto-alt-ref 0 -lag-in-frames 0 \
  -map_metadata -1 -fflags +bitexact -flags:v +bitexact \
  -f ivf video.ivf

# G.711 (PCMU, PCMA) and G.722: the same tone, 4 s, raw payload bytes (no
# container: 8000 bytes a second, 160 per 20 ms RTP packet), for a gateway
# that answers with one of them (the reference SDK offers both).
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "sine=frequency=440:sample_rate=16000:duration=4,tremolo=f=3:d=0.5" \
  -ac 1 -ar 8000 -c:a pcm_mulaw -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
  -f mulaw audio.pcmu
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "sine=frequency=440:sample_rate=16000:duration=4,tremolo=f=3:d=0.5" \
  -ac 1 -ar 8000 -c:a pcm_alaw -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
  -f alaw audio.pcma
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "sine=frequency=440:sample_rate=16000:duration=4,tremolo=f=3:d=0.5" \
  -ac 1 -ar 16000 -c:a g722 -map_metadata -1 -fflags +bitexact -flags:a +bitexact \
  -f g722 audio.g722

ls -l audio.ogg video.ivf audio.pcmu audio.pcma audio.g722
