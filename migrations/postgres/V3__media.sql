-- Premium image generation details, profile photos, and generative NFT artwork:
-- migrations/sqlite/V3__media.sql one for one, in the types of V1.

ALTER TABLE premium_image_generations ADD COLUMN quality text NOT NULL DEFAULT 'standard';
ALTER TABLE premium_image_generations ADD COLUMN revised_prompt text;
ALTER TABLE premium_image_generations ADD COLUMN seed text;
ALTER TABLE premium_image_generations ADD COLUMN sha256 text;
ALTER TABLE premium_image_generations ADD COLUMN original_path text;
ALTER TABLE premium_image_generations ADD COLUMN thumbnail_path text;
ALTER TABLE premium_image_generations ADD COLUMN width bigint;
ALTER TABLE premium_image_generations ADD COLUMN height bigint;
CREATE INDEX premium_image_generations_by_user_page ON premium_image_generations (user_id, created_at DESC, generation_id DESC);

CREATE TABLE media_photos (
  photo_id        uuid PRIMARY KEY,
  user_id         text NOT NULL,
  caption         text,
  path            text NOT NULL,
  thumbnail_path  text NOT NULL,
  width           bigint NOT NULL,
  height          bigint NOT NULL,
  size_bytes      bigint NOT NULL,
  created_at      timestamptz NOT NULL
);
CREATE INDEX media_photos_by_user ON media_photos (user_id, created_at DESC, photo_id DESC);

-- `token_id` is the id a later ERC-721 mint would use: unique on this server, never reused.
-- `attributes` is a JSON array of traits (SQLite: its text).
CREATE TABLE media_nfts (
  nft_id         uuid PRIMARY KEY,
  user_id        text NOT NULL,
  token_id       bigint NOT NULL UNIQUE,
  name           text NOT NULL,
  image_path     text NOT NULL,
  metadata_path  text NOT NULL,
  sha256         text NOT NULL,
  attributes     jsonb NOT NULL,
  created_at     timestamptz NOT NULL
);
CREATE INDEX media_nfts_by_user ON media_nfts (user_id, created_at DESC, nft_id DESC);
