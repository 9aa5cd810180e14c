-- Media of hosted chats (UserChatService.UploadMedia, BusinessService.UploadMedia).
--
-- A row of hosting.media is made when an upload starts and holds no content: the content is in
-- hosting.media_chunks, cut into chunks of `chunk_bytes` (the last one shorter), each sealed
-- with AES-256-GCM under the business's data key with the media id and the chunk's index as
-- associated data. The SHA-256 of the content is sealed the same way (index -1), so a guess of
-- a file cannot be confirmed from the database.
--
-- uploader_kind: 1 a user, 2 the business (the direction of the message it may go into).
-- complete: every byte was stored and the content checked (type, size, hash).
-- message_id: the message the media was attached to, once only; NULL while pending. From then
--   on the media lives and dies with that message: it is readable while the message is, and
--   deleting the message deletes it (functions/hosting/drop_media_of_gone_messages.sql).
-- pending_until: a pending upload (attached to nothing) is deleted by the sweeper after this;
--   every stored chunk and the completion move it forward.
CREATE TABLE hosting.media (
  media_id      uuid PRIMARY KEY,
  business_id   uuid NOT NULL REFERENCES core.businesses (business_id) ON DELETE CASCADE,
  uploader_id   uuid NOT NULL,
  uploader_kind smallint NOT NULL CHECK (uploader_kind IN (1, 2)),
  mime_type     text NOT NULL,
  kind          smallint NOT NULL CHECK (kind BETWEEN 1 AND 4),
  size_bytes    bigint NOT NULL CHECK (size_bytes > 0),
  chunk_bytes   integer NOT NULL CHECK (chunk_bytes > 0),
  complete      boolean NOT NULL DEFAULT false,
  sealed_sha256 bytea,
  message_id    uuid UNIQUE,
  pending_until timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX media_pending_by_age ON hosting.media (pending_until) WHERE message_id IS NULL;
CREATE INDEX media_pending_by_uploader ON hosting.media (uploader_id) WHERE message_id IS NULL;
CREATE INDEX media_by_business ON hosting.media (business_id);

CREATE TABLE hosting.media_chunks (
  media_id uuid NOT NULL REFERENCES hosting.media ON DELETE CASCADE,
  idx      integer NOT NULL CHECK (idx >= 0),
  body     bytea NOT NULL,
  PRIMARY KEY (media_id, idx)
);
-- Sealed chunks do not compress: store them out of line without trying.
ALTER TABLE hosting.media_chunks ALTER COLUMN body SET STORAGE EXTERNAL;
