# Replacing a committed directory (a shipped bundle, a student snapshot) with a new one, sourced by
# the scripts that do it. The swap is two moves (DEST aside to DEST.old, NEW in); a call stopped
# between them leaves DEST.old and no DEST, which mend_swap, run before anything reads DEST, undoes.

mend_swap() {  # mend_swap DEST [LABEL]: put DEST.old back where DEST is missing; drop a leftover one
  local dest=$1 label=${2:-swap}
  [ -d "$dest.old" ] || return 0
  if [ -d "$dest" ]; then
    rm -rf "$dest.old"  # the new one had landed
  else
    echo "[$label] $dest is missing and $dest.old holds the one before: restoring it"
    mv "$dest.old" "$dest"
  fi
}

swap_in() {  # swap_in NEW DEST: NEW (complete) in place of DEST (or where there is none yet)
  local new=$1 dest=$2
  mend_swap "$dest"
  [ ! -d "$dest" ] || mv "$dest" "$dest.old"
  mv "$new" "$dest"
  rm -rf "$dest.old"
}
