-- Answers a clinic gives to common questions (payment means, documents to
-- bring, …) as JSON [{"topic", "fr", "en"}], and a price per service.
ALTER TABLE clinics ADD COLUMN answers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE services ADD COLUMN price TEXT;
