// Package media holds loadgen's default pre-recorded media, embedded in the
// binary so that a run needs no files: a 4 s Opus clip in Ogg (48 kHz mono,
// 20 ms frames), the same tone as raw G.711 (PCMU, PCMA) and G.722 bytes,
// and a 4 s VP8 clip in IVF (320x240, 15 fps). See README.md
// and make.sh for how they were made. internal/media decodes them.
package media

import (
	"embed"
	"io/fs"
)

// AudioFile and VideoFile are the names of the default clips inside Files();
// PCMUFile, PCMAFile and G722File those of the same tone as raw G.711
// mu-law, G.711 A-law and G.722 payload bytes (8000 bytes a second), sent
// when a gateway answers with one of those codecs.
const (
	AudioFile = "audio.ogg"
	VideoFile = "video.ivf"
	PCMUFile  = "audio.pcmu"
	PCMAFile  = "audio.pcma"
	G722File  = "audio.g722"
)

//go:embed audio.ogg video.ivf audio.pcmu audio.pcma audio.g722
var files embed.FS // read-only: embed.FS cannot be modified

// Files returns the embedded clips as a read-only file system holding
// AudioFile and VideoFile.
func Files() fs.FS { return files }

// Audio returns the bytes of the default Opus clip (an Ogg file). The slice
// is a fresh copy, so callers may keep or modify it.
func Audio() []byte { return mustRead(AudioFile) }

// Video returns the bytes of the default VP8 clip (an IVF file). The slice
// is a fresh copy, so callers may keep or modify it.
func Video() []byte { return mustRead(VideoFile) }

// PCMU returns the bytes of the G.711 mu-law clip (raw payload bytes), a
// fresh copy.
func PCMU() []byte { return mustRead(PCMUFile) }

// PCMA returns the bytes of the G.711 A-law clip (raw payload bytes), a
// fresh copy.
func PCMA() []byte { return mustRead(PCMAFile) }

// G722 returns the bytes of the G.722 clip (raw payload bytes), a fresh
// copy.
func G722() []byte { return mustRead(G722File) }

// mustRead reads an embedded file. Both names are embedded at build time, so
// the read cannot fail; a nil slice is returned if it ever did, which every
// loader reports as a truncated file.
func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		return nil
	}
	return b
}
