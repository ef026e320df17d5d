-- Premium image generation details, profile photos, and generative NFT artwork.

ALTER TABLE premium_image_generations ADD COLUMN quality TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE premium_image_generations ADD COLUMN revised_prompt TEXT;
ALTER TABLE premium_image_generations ADD COLUMN seed TEXT;
ALTER TABLE premium_image_generations ADD COLUMN sha256 TEXT;
ALTER TABLE premium_image_generations ADD COLUMN original_path TEXT;
ALTER TABLE premium_image_generations ADD COLUMN thumbnail_path TEXT;
ALTER TABLE premium_image_generations ADD COLUMN width INTEGER;
ALTER TABLE premium_image_generations ADD COLUMN height INTEGER;
CREATE INDEX premium_image_generations_by_user_page ON premium_image_generations (user_id, created_at DESC, generation_id DESC);

CREATE TABLE media_photos (
  photo_id        TEXT PRIMARY KEY,
  user_id         TEXT NOT NULL,
  caption         TEXT,
  path            TEXT NOT NULL,
  thumbnail_path  TEXT NOT NULL,
  width           INTEGER NOT NULL,
  height          INTEGER NOT NULL,
  size_bytes      INTEGER NOT NULL,
  created_at      TEXT NOT NULL
);
CREATE INDEX media_photos_by_user ON media_photos (user_id, created_at DESC, photo_id DESC);

-- `token_id` is the id a later ERC-721 mint would use: unique on this server, never reused.
CREATE TABLE media_nfts (
  nft_id         TEXT PRIMARY KEY,
  user_id        TEXT NOT NULL,
  token_id       INTEGER NOT NULL UNIQUE,
  name           TEXT NOT NULL,
  image_path     TEXT NOT NULL,
  metadata_path  TEXT NOT NULL,
  sha256         TEXT NOT NULL,
  attributes     TEXT NOT NULL,
  created_at     TEXT NOT NULL
);
CREATE INDEX media_nfts_by_user ON media_nfts (user_id, created_at DESC, nft_id DESC);
