#!/usr/bin/env bash
# Draws the tray's state icons (app/tray/icons/*.png) with ImageMagick.
# Each state differs in shape as well as colour, so it reads without
# colour vision too: idle grey with a pause bar, active green with a
# forward arrow, warning yellow with "!", failed red with a cross.
# The PNGs are committed; run this only to change them.
set -euo pipefail
out="$(dirname "$0")/../app/tray/icons"
mkdir -p "$out"
draw() { # name fill ring glyph-colour glyph-draw...
  local name=$1 fill=$2 ring=$3 ink=$4
  shift 4
  convert -size 256x256 xc:none \
    -fill "$fill" -stroke "$ring" -strokewidth 14 -draw "circle 128,128 128,14" \
    -stroke none -fill "$ink" "$@" "/tmp/drover-icon-$name.png"
  for size in 16 22 24 32 48 64 128; do
    convert "/tmp/drover-icon-$name.png" -filter Lanczos -resize ${size}x${size} \
      -strip "$out/$name-$size.png"
  done
  rm -f "/tmp/drover-icon-$name.png"
}
draw idle '#9e9e9e' '#5f5f5f' white \
  -draw "roundrectangle 84,72 114,184 10,10" -draw "roundrectangle 142,72 172,184 10,10"
draw active '#2e9d46' '#1b5e2a' white \
  -draw "polygon 96,64 196,128 96,192"
draw warning '#f2b705' '#8a6800' '#3a2c00' \
  -draw "roundrectangle 110,52 146,150 14,14" -draw "circle 128,184 128,164"
draw failed '#d32f2f' '#7f1717' white \
  -stroke white -strokewidth 34 -draw "line 84,84 172,172" -draw "line 172,84 84,172"
# The application icon (window, About, .desktop): the active arrow on blue.
draw drover '#1e6fd9' '#0d3f80' white \
  -draw "polygon 96,64 196,128 96,192"
# The Windows executable's and installer's icon: the same, as one .ico.
convert "$out"/drover-{16,24,32,48,64,128}.png "$out/../../windows/drover.ico"
